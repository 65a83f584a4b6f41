"""Rocket.Chat's REST authentication and the dashboard permission, read straight from its database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

PERMISSION = "view-engagement-dashboard"
BYPASS_RATE_LIMIT = "api-bypass-rate-limit"  # Rocket.Chat's permission (admin, bot and app by default)
DEFAULT_LOGIN_EXPIRATION_DAYS = 90


def hash_token(token: str) -> str:
    """How Rocket.Chat (Meteor's Accounts) stores a resume token: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


def login_expiration_days(value: Any) -> float:
    """The Accounts_LoginExpiration setting as Rocket.Chat reads it: a positive number of days, else 90."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return DEFAULT_LOGIN_EXPIRATION_DAYS
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_LOGIN_EXPIRATION_DAYS


def token_is_valid(login_token: dict, now: datetime, expiration_days: float) -> bool:
    """Personal access tokens never expire; login tokens do, `expiration_days` after `when`."""
    if login_token.get("type") == "personalAccessToken":
        return True
    when = login_token.get("when")
    if not isinstance(when, datetime):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return now - when < timedelta(days=expiration_days)


class Access(NamedTuple):
    status: int  # 200, 401 or 403
    bypass_rate_limit: bool = False
    user_id: str = ""


class SharedDocuments:
    """The login-expiration setting and the permissions' roles, read at most once a second and shared by all
    requests: they change rarely, and a change then applies within a second. The user is read on every request."""

    TTL_S = 1.0

    def __init__(self):
        self._value: tuple[dict | None, dict[str, dict]] | None = None
        self._read_at = 0.0
        self._pending: asyncio.Future | None = None

    async def get(self, db) -> tuple[dict | None, dict[str, dict]]:
        """The setting (or None) and the permission documents by name (a missing one is absent)."""
        if self._value is not None and time.monotonic() - self._read_at < self.TTL_S:
            return self._value
        if self._pending is None:
            self._pending = asyncio.ensure_future(
                asyncio.gather(
                    db.rocketchat_settings.find_one({"_id": "Accounts_LoginExpiration"}, {"value": 1}),
                    db.rocketchat_permissions.find(
                        {"_id": {"$in": [PERMISSION, BYPASS_RATE_LIMIT]}}, {"roles": 1}
                    ).to_list(),
                )
            )
        pending = self._pending
        try:
            setting, permissions = await asyncio.shield(pending)
        finally:
            if self._pending is pending and pending.done():
                self._pending = None
        value = setting, {p["_id"]: p for p in permissions}
        if pending.done() and not pending.cancelled() and pending.exception() is None:
            self._value, self._read_at = value, time.monotonic()
        return value


async def authorize(
    db, user_id: str | None, token: str | None, shared: SharedDocuments | None = None, now: datetime | None = None
) -> Access:
    """200 when the user may view the dashboard, else 401 (not logged in) or 403 (no permission); and whether
    the user's roles bypass the API rate limit, as in Rocket.Chat.

    The reads are independent and go out together; the user's tokens are filtered in the database so a user
    with thousands of tokens costs no more than one with a single token.
    """
    if not user_id or not token:
        return Access(401)
    hashed = hash_token(token)
    user, (setting, permissions) = await asyncio.gather(
        db.users.find_one(
            {"_id": user_id, "services.resume.loginTokens.hashedToken": hashed},
            {"username": 1, "active": 1, "roles": 1, "services.resume.loginTokens.$": 1},
        ),
        (shared or SharedDocuments()).get(db),
    )
    if user is None or user.get("active") is False or not user.get("username"):
        return Access(401)
    tokens = user.get("services", {}).get("resume", {}).get("loginTokens", [])
    expiration = login_expiration_days((setting or {}).get("value"))
    now = now or datetime.now(UTC)
    if not any(t.get("hashedToken") == hashed and token_is_valid(t, now, expiration) for t in tokens):
        return Access(401)
    roles = user.get("roles") or []
    roles = {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()

    def holds(permission: str) -> bool:  # a missing permission document means nobody holds it, as in Rocket.Chat
        granted = (permissions.get(permission) or {}).get("roles")
        return isinstance(granted, list) and not roles.isdisjoint(r for r in granted if isinstance(r, str))

    if not holds(PERMISSION):
        return Access(403)
    return Access(200, holds(BYPASS_RATE_LIMIT), user_id)

"""Rocket.Chat's REST authentication and the dashboard permission, read straight from its database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

PERMISSION = "view-engagement-dashboard"
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


class SharedDocuments:
    """The login-expiration setting and the permission's roles, read at most once a second and shared by all
    requests: they change rarely, and a change then applies within a second. The user is read on every request."""

    TTL_S = 1.0

    def __init__(self):
        self._value: tuple[dict | None, dict | None] | None = None
        self._read_at = 0.0
        self._pending: asyncio.Future | None = None

    async def get(self, db) -> tuple[dict | None, dict | None]:
        if self._value is not None and time.monotonic() - self._read_at < self.TTL_S:
            return self._value
        if self._pending is None:
            self._pending = asyncio.ensure_future(asyncio.gather(
                db.rocketchat_settings.find_one({"_id": "Accounts_LoginExpiration"}, {"value": 1}),
                db.rocketchat_permissions.find_one({"_id": PERMISSION}, {"roles": 1})))
        pending = self._pending
        try:
            setting, permission = await asyncio.shield(pending)
        finally:
            if self._pending is pending and pending.done():
                self._pending = None
        if pending.done() and not pending.cancelled() and pending.exception() is None:
            self._value, self._read_at = (setting, permission), time.monotonic()
        return setting, permission


async def authorize(db, user_id: str | None, token: str | None, shared: SharedDocuments | None = None,
                    now: datetime | None = None) -> int:
    """200 when the user may view the dashboard, else 401 (not logged in) or 403 (no permission).

    The reads are independent and go out together; the user's tokens are filtered in the database so a user
    with thousands of tokens costs no more than one with a single token.
    """
    if not user_id or not token:
        return 401
    hashed = hash_token(token)
    user, (setting, permission) = await asyncio.gather(
        db.users.find_one(
            {"_id": user_id, "services.resume.loginTokens.hashedToken": hashed},
            {"username": 1, "active": 1, "roles": 1, "services.resume.loginTokens.$": 1},
        ),
        (shared or SharedDocuments()).get(db),
    )
    if user is None or user.get("active") is False or not user.get("username"):
        return 401
    tokens = user.get("services", {}).get("resume", {}).get("loginTokens", [])
    expiration = login_expiration_days((setting or {}).get("value"))
    now = now or datetime.now(UTC)
    if not any(t.get("hashedToken") == hashed and token_is_valid(t, now, expiration) for t in tokens):
        return 401
    # A missing permission document means nobody holds it, as in Rocket.Chat.
    allowed = set((permission or {}).get("roles") or [])
    roles = user.get("roles") or []
    if not isinstance(roles, list) or not allowed.intersection(r for r in roles if isinstance(r, str)):
        return 403
    return 200

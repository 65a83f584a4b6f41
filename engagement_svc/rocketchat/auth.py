"""Rocket.Chat's REST authentication and the dashboard permission, read straight from its database.

Credentials are checked before anything reaches MongoDB: exactly one `X-User-Id` and one `X-Auth-Token`, each
valid UTF-8 text of printable characters and of sane length; anything else is a plain 401. The user lookup is
remembered per (user, token) while the `users` change stream is followed, and forgotten the moment that user's
document changes (a login, a logout, a role, a deactivation), so a repeated failure, a 403 or a 429 costs no
lookup, and a token is accepted as soon as the stream shows it (milliseconds after Rocket.Chat wrote it). Without
the stream nothing is remembered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from bson import Timestamp

from engagement_svc.mongo_types import Database, Document
from engagement_svc.rocketchat import workspace
from engagement_svc.rocketchat.changes import ChangeStreams, Watcher
from engagement_svc.rocketchat.workspace import BYPASS_RATE_LIMIT, LOGIN_EXPIRATION, Workspace

log = logging.getLogger("engagement_svc.auth")

PERMISSION = workspace.PERMISSION  # the dashboard's permission: bound here too, the demo imports it from here

DEFAULT_LOGIN_EXPIRATION_DAYS = 90
NEVER_EXPIRES_DAYS = 1_000_000  # a setting this large (2,700 years, or infinite) means "never": no date holds it
MAX_CREDENTIAL_CHARS = 1024
LOOKUP_CACHE_SIZE = 10_000  # (user, token) lookups remembered: about 1 KB each at most


def hash_token(token: str) -> str:
    """How Rocket.Chat (Meteor's Accounts) stores a resume token: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


def credential(headers: Mapping[str, str], name: str) -> str | None:
    """The header's one value if it is plausible credential text; None for missing, repeated, too long, not
    UTF-8 (aiohttp hands such bytes over as surrogates), or holding control characters."""
    getall = getattr(headers, "getall", None)
    values = getall(name, []) if getall else ([headers[name]] if name in headers else [])
    if len(values) != 1:
        return None
    value = values[0]
    if not value or len(value) > MAX_CREDENTIAL_CHARS or not value.isprintable():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


_WARNED: set[str] = set()  # warnings given once per process


def login_expiration_days(value: object) -> float | None:
    """The Accounts_LoginExpiration setting as Rocket.Chat reads it: a positive number of days, else 90; None
    (no expiry) for a value too large for any date (1e9, "Infinity"), which is what Meteor makes of it."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return DEFAULT_LOGIN_EXPIRATION_DAYS
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value <= 0:
        return DEFAULT_LOGIN_EXPIRATION_DAYS
    if value >= NEVER_EXPIRES_DAYS:
        if "never" not in _WARNED:
            _WARNED.add("never")
            log.warning("Accounts_LoginExpiration is %g days: login tokens are taken never to expire", value)
        return None
    return float(value)


def token_is_valid(login_token: Document, now: datetime, expiration_days: float | None) -> bool:
    """Personal access tokens never expire; login tokens do, `expiration_days` after `when` (None: never)."""
    if login_token.get("type") == "personalAccessToken":
        return True
    when = login_token.get("when")
    if not isinstance(when, datetime):
        return False
    if expiration_days is None:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return now - when < timedelta(days=expiration_days)


class Access(NamedTuple):
    status: int  # 200, 401 or 403
    bypass_rate_limit: bool = False
    user_id: str = ""


class UserLookups:
    """The user found (or not) for a (user id, hashed token), remembered while the `users` change stream runs
    and forgotten when that user's document changes. Bounded: the LOOKUP_CACHE_SIZE most recent."""

    def __init__(self, watcher: Watcher | None):
        self._watcher = watcher
        self._found: OrderedDict[tuple[str, str], Document | None] = OrderedDict()
        self._tokens: dict[str, set[str]] = {}  # user id -> the hashed tokens remembered for it
        self._events = 0  # users events seen: a lookup that overlapped one is not remembered
        self.stats = {"lookups": 0, "remembered": 0}
        if watcher is not None:
            watcher.listen(self, None)

    async def find(self, db: Database, user_id: str, hashed: str) -> Document | None:
        key = (user_id, hashed)
        watching = self._watcher is not None and self._watcher.healthy
        if not watching and self._found:
            self.reset()  # what changed while the stream was down is not known
        if watching and key in self._found:
            self._found.move_to_end(key)
            self.stats["remembered"] += 1
            return self._found[key]
        events = self._events
        self.stats["lookups"] += 1
        user = await db.users.find_one(
            {"_id": user_id, "services.resume.loginTokens.hashedToken": hashed},
            {"username": 1, "active": 1, "roles": 1, "services.resume.loginTokens.$": 1},
        )
        if watching and self._watcher is not None and self._watcher.healthy and events == self._events:
            self._found[key] = user
            self._tokens.setdefault(user_id, set()).add(hashed)
            if len(self._found) > LOOKUP_CACHE_SIZE:
                (old_user, old_hashed), _ = self._found.popitem(last=False)
                self._tokens[old_user].discard(old_hashed)
                if not self._tokens[old_user]:
                    del self._tokens[old_user]
        return user

    def _forget(self, user_id: object) -> None:
        self._events += 1
        if isinstance(user_id, str):  # an id Rocket.Chat made (a user's is text); any other remembers nothing
            for hashed in self._tokens.pop(user_id, ()):
                self._found.pop((user_id, hashed), None)

    # the users change stream's listener
    def inserted(self, doc: Document, cluster_time: Timestamp) -> None:
        self._forget(doc.get("_id"))

    async def changed(self, doc_id: object) -> None:
        self._forget(doc_id)

    def deleted(self, doc_id: object) -> None:
        self._forget(doc_id)

    def reset(self) -> None:
        self._events += 1
        self._found.clear()
        self._tokens.clear()

    def history_lost(self) -> None:
        self.reset()

    async def flush(self) -> None:
        pass


def user_lookups(streams: ChangeStreams | None) -> UserLookups:
    return UserLookups(streams.on("users") if streams is not None else None)


async def authorize(
    db: Database,
    headers: Mapping[str, str],
    workspace: Workspace | None = None,
    lookups: UserLookups | None = None,
    now: datetime | None = None,
) -> Access:
    """200 when the user may view the dashboard, else 401 (not logged in) or 403 (no permission); and whether
    the user's roles bypass the API rate limit, as in Rocket.Chat.

    The reads are independent and go out together; the user's tokens are filtered in the database so a user
    with thousands of tokens costs no more than one with a single token.
    """
    user_id, token = credential(headers, "X-User-Id"), credential(headers, "X-Auth-Token")
    if user_id is None or token is None:
        return Access(401)
    hashed = hash_token(token)
    user, (settings, permissions) = await asyncio.gather(
        (lookups or UserLookups(None)).find(db, user_id, hashed), (workspace or Workspace()).get(db)
    )
    if user is None or user.get("active") is False or not user.get("username"):
        return Access(401)
    tokens = user.get("services", {}).get("resume", {}).get("loginTokens", [])
    expiration = login_expiration_days(settings.get(LOGIN_EXPIRATION))
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

"""Rocket.Chat's own settings and permissions that the service follows live: login expiry, CORS, the API rate
limiter, and the two permissions the dashboard checks.

They change rarely and every request needs them, so they are read together at most once a second and shared
by all requests: a change in Rocket.Chat's admin applies here within about a second. While MongoDB cannot be
read, the last values read stay in force (CORS and the rate limit must not flap with the database).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import pymongo
from pymongo.errors import PyMongoError

from engagement_svc.mongo_types import Database, Document

LOGIN_EXPIRATION = "Accounts_LoginExpiration"
CORS_ENABLED = "API_Enable_CORS"
CORS_ORIGIN = "API_CORS_Origin"
LIMITER_ENABLED = "API_Enable_Rate_Limiter"
LIMITER_CALLS = "API_Enable_Rate_Limiter_Limit_Calls_Default"
LIMITER_TIME_MS = "API_Enable_Rate_Limiter_Limit_Time_Default"
SETTING_IDS = (LOGIN_EXPIRATION, CORS_ENABLED, CORS_ORIGIN, LIMITER_ENABLED, LIMITER_CALLS, LIMITER_TIME_MS)

PERMISSION = "view-engagement-dashboard"
BYPASS_RATE_LIMIT = "api-bypass-rate-limit"  # Rocket.Chat's permission (admin, bot and app by default)

MAX_LIMIT_CALLS = 1_000_000_000
MAX_LIMIT_MS = 86_400_000  # a window longer than a day is taken as a day: windows are kept in memory


class Snapshot(NamedTuple):
    """Setting values by id (an absent setting is absent) and permission documents by name."""

    settings: dict[str, object]  # a setting's value: whatever Rocket.Chat stored, read as Rocket.Chat reads it
    permissions: dict[str, Document]


EMPTY = Snapshot({}, {})


@dataclass(frozen=True)
class Cors:
    """Rocket.Chat's CORS settings: off, every origin (`*`), or a list of origins (lower case)."""

    enabled: bool
    any_origin: bool
    origins: frozenset[str]


@dataclass(frozen=True)
class Limit:
    """The API rate limit in force: `calls` per `seconds` per route, method and client address; calls 0 is off."""

    calls: int
    seconds: float


def cors(snapshot: Snapshot) -> Cors:
    """As Rocket.Chat reads them: CORS is on only when `API_Enable_CORS` is true (its default is false);
    `API_CORS_Origin` is `*` (its default) or origins separated by commas, compared without case."""
    enabled = snapshot.settings.get(CORS_ENABLED) is True
    raw = snapshot.settings.get(CORS_ORIGIN, "*")
    text = raw.strip() if isinstance(raw, str) else "*"
    if text == "*":
        return Cors(enabled, True, frozenset())
    return Cors(enabled, False, frozenset(o.strip().lower() for o in text.split(",") if o.strip()))


def _positive_whole(value: object, most: int) -> int | None:
    """A positive whole number from a setting's value (Rocket.Chat stores ints, sometimes as text), else None."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
        return None
    return min(int(value), most)


def limit(snapshot: Snapshot, fallback_calls: int, fallback_seconds: float) -> Limit:
    """Rocket.Chat's rate-limiter settings win; each one absent (or unreadable) falls back to the service's own
    (ENGAGEMENT_RATE_LIMIT_CALLS and _SECONDS). `API_Enable_Rate_Limiter_Dev` applies only to a Rocket.Chat in
    development mode, which this service never is."""
    enabled = snapshot.settings.get(LIMITER_ENABLED)
    if enabled is False or (not isinstance(enabled, bool) and fallback_calls == 0):
        return Limit(0, fallback_seconds)
    calls = _positive_whole(snapshot.settings.get(LIMITER_CALLS), MAX_LIMIT_CALLS)
    window_ms = _positive_whole(snapshot.settings.get(LIMITER_TIME_MS), MAX_LIMIT_MS)
    if calls is None:
        calls = fallback_calls or 10  # on by Rocket.Chat's setting, with no count of our own: its default
    return Limit(calls, window_ms / 1000 if window_ms is not None else fallback_seconds)


class Workspace:
    """The settings and permissions above, read at most once a second and shared by all requests."""

    TTL_S = 1.0

    def __init__(self, read_limit_s: float = 10.0) -> None:
        """`read_limit_s`: the time limit of each read (sent as maxTimeMS): a read is shared and may be started
        outside any request (by CORS), so it carries a limit of its own (a request's shorter one applies too)."""
        self._read_limit_s = read_limit_s
        self._value: Snapshot | None = None
        self._read_at = 0.0
        self._pending: asyncio.Future[Snapshot] | None = None

    @property
    def last(self) -> Snapshot:
        """What was read last (empty before the first read)."""
        return self._value or EMPTY

    async def get(self, db: Database) -> Snapshot:
        """The current values: read again when older than a second (one read in flight, shared); raises what
        the read raises."""
        if self._value is not None and self._fresh():
            return self._value
        return await asyncio.shield(self._start_read(db))

    async def current(self, db: Database, seconds: float) -> Snapshot:
        """Without waiting on the database when anything was read before: the last values, a new read started
        when they are older than a second. Before any, `get` within `seconds` (0: not at all), else the defaults
        (empty)."""
        if self._value is not None or seconds <= 0:
            if self._value is None or not self._fresh():
                self._start_read(db)
            return self.last
        try:
            async with asyncio.timeout(seconds):
                return await self.get(db)
        except (TimeoutError, PyMongoError):
            return EMPTY

    def _fresh(self) -> bool:
        return time.monotonic() - self._read_at < self.TTL_S

    def _start_read(self, db: Database) -> asyncio.Future[Snapshot]:
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._read(db, self._read_limit_s))
            self._pending.add_done_callback(self._read_done)
        return self._pending

    @staticmethod
    async def _read(db: Database, limit_s: float) -> Snapshot:
        with pymongo.timeout(limit_s):
            settings, permissions = await asyncio.gather(
                db.rocketchat_settings.find({"_id": {"$in": list(SETTING_IDS)}}, {"value": 1}).to_list(),
                db.rocketchat_permissions.find(
                    {"_id": {"$in": [PERMISSION, BYPASS_RATE_LIMIT]}}, {"roles": 1}
                ).to_list(),
            )
        return Snapshot({s["_id"]: s.get("value") for s in settings}, {p["_id"]: p for p in permissions})

    def _read_done(self, future: asyncio.Future[Snapshot]) -> None:
        self._pending = None
        if not future.cancelled() and future.exception() is None:  # a failed read keeps the last values
            self._value, self._read_at = future.result(), time.monotonic()

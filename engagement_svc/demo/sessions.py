"""Logins written as Rocket.Chat writes them into `rocketchat_sessions`, for the demo and the tests.

A login is a person's connection from `start` to `end` (None: still open). Rocket.Chat records it as one
`session` document, and then its jobs (SAUMonitor) rewrite the past: at 01:05 server time each session still
open from yesterday gets `lastActivityAt` = yesterday 23:59:59.999 and a copy for today (same `loginAt`,
`createdAt` today 00:00); at 02:00 yesterday's sessions are summed into `user_daily` documents and renamed
`computed-session`; a TTL deletes both 45 days after `_computedAt`. This module replays all of that up to `now`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeAlias, TypedDict
from zoneinfo import ZoneInfo

from engagement_svc.mongo_types import Document, SyncDatabase


class IndexOptions(TypedDict, total=False):
    """The options of an index the demo creates, as `create_index` takes them (by name, none by default)."""

    sparse: bool


Index: TypeAlias = tuple[list[tuple[str, int]], IndexOptions]  # its keys (field, direction), its options

SESSION_INDEXES: list[Index] = [  # Rocket.Chat's own indexes
    ([("createdAt", -1)], {}),
    ([("loginAt", -1)], {}),
    ([("ip", 1), ("loginAt", -1)], {}),
    ([("userId", 1), ("sessionId", 1)], {}),
    ([("type", 1), ("year", 1), ("month", 1), ("day", 1)], {}),
    ([("sessionId", 1), ("instanceId", 1), ("year", 1), ("month", 1), ("day", 1)], {}),
]
TTL_DAYS = 45
COPY_AT = timedelta(hours=1, minutes=5)  # the job that caps yesterday's open sessions and copies them
SUM_AT = timedelta(hours=2)  # the job that writes user_daily and renames sessions to computed-session
DEVICES = [
    {"type": "browser", "name": "Chrome", "longVersion": "120.0.6099.109", "os": {"name": "Windows", "version": "10"}},
    {"type": "browser", "name": "Firefox", "longVersion": "121.0", "os": {"name": "Linux", "version": ""}},
    {"type": "browser", "name": "Safari", "longVersion": "17.2", "os": {"name": "Mac OS", "version": "14.2"}},
    {"type": "mobile-app", "name": "RC Mobile", "longVersion": "4.45.0", "os": {"name": "iOS", "version": "17.2"}},
    {"type": "mobile-app", "name": "RC Mobile", "longVersion": "4.45.0", "os": {"name": "Android", "version": "14"}},
    {"type": "desktop-app", "name": "Electron", "longVersion": "3.9.12", "os": {"name": "Mac OS", "version": "14.2"}},
]


@dataclass
class Login:
    user_id: str | None  # None: a connection that never logged in (Rocket.Chat writes no userId)
    role: str  # mostImportantRole: admin, user, bot, anonymous...
    start: datetime
    end: datetime | None  # None: still open
    logout: bool = False  # ended by a logout (logoutAt) rather than the connection closing (closedAt)
    device: int = 0


def create_session_indexes(db: SyncDatabase, ttl: bool = True) -> None:
    """Rocket.Chat's indexes; with `ttl`, its TTL too (MongoDB then deletes what is 45 days old)."""
    for keys, options in SESSION_INDEXES:
        db.rocketchat_sessions.create_index(keys, **options)
    if ttl:
        db.rocketchat_sessions.create_index([("_computedAt", 1)], expireAfterSeconds=TTL_DAYS * 86_400)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def session_documents(
    logins: Iterable[Login],
    now: datetime,
    zone: ZoneInfo,
    rng: random.Random,
    ttl: bool = True,
    id_prefix: str = "s",
) -> list[Document]:
    """Every document Rocket.Chat would hold at `now` for these logins (its server in `zone`), with `ttl` the
    TTL applied (else as if it had not run yet). `id_prefix` keeps session ids of separate batches apart."""
    raw: list[Document] = []
    for n, login in enumerate(logins):
        session_id, instance = f"{id_prefix}{n:07d}{rng.randrange(10**6):06d}", f"instance-{n % 3}"
        created = login.start
        while True:
            day = created.astimezone(zone).date()
            next_midnight = _midnight(day + timedelta(days=1), zone)
            doc = _session(login, session_id, instance, created, day)
            copied_at = next_midnight + COPY_AT
            if (login.end is None or login.end > copied_at) and copied_at <= now:
                doc["lastActivityAt"] = next_midnight - timedelta(milliseconds=1)
                raw.append(doc)
                created = next_midnight
                continue
            if login.end is not None and login.end <= now:
                doc["logoutAt" if login.logout else "closedAt"] = login.end
                doc["lastActivityAt"] = login.end
            raw.append(doc)
            break
    daily: dict[str, Document] = {}
    for doc in raw:
        day = date(doc["year"], doc["month"], doc["day"])
        computed_at = _midnight(day + timedelta(days=1), zone) + SUM_AT
        if computed_at > now or "lastActivityAt" not in doc:
            continue
        doc["type"], doc["_computedAt"] = "computed-session", computed_at
        if doc.get("userId") is None:
            continue
        key = f"{doc['userId']}-{doc['year']}-{doc['month']}-{doc['day']}"
        seconds = max(0, int((doc["lastActivityAt"] - doc["loginAt"]).total_seconds()))
        summary = daily.setdefault(
            key,
            {
                "_id": key,
                "type": "user_daily",
                "userId": doc["userId"],
                "day": doc["day"],
                "month": doc["month"],
                "year": doc["year"],
                "mostImportantRole": doc["mostImportantRole"],
                "time": 0,
                "sessions": 0,
                "devices": [],
                "_computedAt": computed_at,
            },
        )
        summary["time"] += seconds
        summary["sessions"] += 1
        summary["devices"].append({**doc.get("device", {}), "sessions": 1, "time": seconds})
    kept_after = now - timedelta(days=TTL_DAYS) if ttl else datetime.min.replace(tzinfo=now.tzinfo)
    docs = [*raw, *daily.values()]
    return [d for d in docs if d.get("_computedAt") is None or d["_computedAt"] >= kept_after]


def _session(login: Login, session_id: str, instance: str, created: datetime, day: date) -> Document:
    doc: Document = {
        "_id": f"{session_id}-{day.isoformat()}",
        "type": "session",
        "sessionId": session_id,
        "instanceId": instance,
        "roles": [login.role] if login.role != "admin" else ["user", "admin"],
        "mostImportantRole": login.role,
        "loginAt": login.start,
        "device": DEVICES[login.device % len(DEVICES)],
        "ip": f"10.0.{login.device}.{len(session_id) % 250}",
        "host": "chat.example.internal",
        "year": day.year,
        "month": day.month,
        "day": day.day,
        "createdAt": created,
        "_updatedAt": created,
    }
    if login.user_id is not None:
        doc["userId"] = login.user_id
    return doc


def daily_logins(
    rng: random.Random,
    users: list[tuple[str, str]],
    first: date,
    last: date,
    now: datetime,
    zone: ZoneInfo,
    hour_weights: list[float],
) -> list[Login]:
    """Logins on the days from `first` to `last` (none after `now`; those not over by then are still open).
    A working rhythm: each (user id, role) logs in on most weekdays and some weekend days, one to three times,
    from browsers, phones and the desktop app; a few sessions last into the night, a few are still open, some
    end by a logout. Plus connections that never logged in, and guests (anonymous)."""
    logins: list[Login] = []
    day = first
    while day <= last and _midnight(day, zone) <= now:
        weekend = day.weekday() >= 5
        for user_id, role in users:
            if rng.random() > (0.25 if weekend else 0.75):
                continue
            for _ in range(rng.choice((1, 1, 2, 3))):
                hour = rng.choices(range(24), hour_weights)[0]
                start = _midnight(day, zone) + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
                device = rng.randrange(len(DEVICES))
                minutes = rng.lognormvariate(3.5, 1.1) if device in (3, 4) else rng.lognormvariate(4.3, 0.9)
                if rng.random() < 0.04:
                    minutes = rng.uniform(8 * 60, 30 * 60)  # left open overnight
                end: datetime | None = start + timedelta(minutes=minutes)
                if start > now:
                    continue
                if end is not None and end > now:
                    end = None
                logins.append(Login(user_id, role, start, end, rng.random() < 0.3, device))
        for i in range(rng.randrange(3)):
            start = _midnight(day, zone) + timedelta(seconds=rng.uniform(0, 86_400))
            if start <= now:
                logins.append(Login(None, "user", start, min(now, start + timedelta(seconds=30)), False, 1))
                logins.append(Login(f"guest{i}", "anonymous", start, min(now, start + timedelta(minutes=20)), False, 0))
        day += timedelta(days=1)
    return logins

"""Rocket.Chat's documents as Rocket.Chat writes them, made here from the data model alone
(/work/shared/spec/rocketchat-data-model.md, and the sessions section of engagement-dashboard.md).

Nothing here comes from the service or its demo: a document shaped by the same misreading as the code that reads
it would pass every test. Users, their login and access tokens, the workspace's permissions, roles and settings,
rooms, messages, Rocket.Chat's indexes, and the sessions of logins with what Rocket.Chat's jobs do to them (the
01:05 copies of sessions still open, the 02:00 `user_daily` sums and `computed-session` renaming, the 45-day TTL).
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

METEOR_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
JOINED = datetime(2022, 1, 10, tzinfo=UTC)  # when users and rooms were made, unless a test says otherwise
DASHBOARD = "view-engagement-dashboard"
BYPASS = "api-bypass-rate-limit"


def meteor_id(rng: random.Random) -> str:
    """A 17-character id from Meteor's alphabet, as Rocket.Chat makes them."""
    return "".join(rng.choice(METEOR_ALPHABET) for _ in range(17))


def hashed(token: str) -> str:
    """What `users` keeps of a token: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


def login_token(token: str, when: datetime) -> dict:
    """A resume token of a login made at `when`."""
    return {"when": when, "hashedToken": hashed(token)}


def personal_access_token(token: str, name: str = "ci") -> dict:
    """A personal access token (Rocket.Chat's account page makes them; they never expire)."""
    return {
        "type": "personalAccessToken",
        "name": name,
        "createdAt": datetime(2023, 1, 1, tzinfo=UTC),
        "lastTokenPart": token[-4:],
        "hashedToken": hashed(token),
        "bypassTwoFactor": True,
    }


def user_doc(
    _id: str, username: str, roles: list[str] | None = None, tokens: list[dict] | None = None, **extra
) -> dict:
    """A `users` document; `extra` sets or overrides any field (`type`, `createdAt`, `active`...)."""
    return {
        "_id": _id,
        "username": username,
        "name": username.replace(".", " ").title(),
        "type": "user",
        "active": True,
        "roles": ["user"] if roles is None else roles,
        "status": "offline",
        "createdAt": JOINED,
        "services": {"resume": {"loginTokens": tokens or []}},
        **extra,
    }


def room_doc(_id: str, t: str, name: str | None = None, **extra) -> dict:
    """A `rocketchat_room` document of type `t`; a named room gets the name as its `fname` too."""
    doc: dict = {"_id": _id, "t": t, "msgs": 0, "ts": JOINED, "_updatedAt": JOINED}
    if name is not None:
        doc.update(name=name, fname=name)
    doc.update(extra)
    return doc


def author(person: dict) -> dict:
    """A message's `u`: the author's id, username and name."""
    return {"_id": person["_id"], "username": person["username"], "name": person.get("name", person["username"])}


def message_doc(_id: str, rid: str, ts: datetime, person: dict, msg: str = "hello", **extra) -> dict:
    """A `rocketchat_message` document by `person` (a user document, or at least its `_id` and `username`)."""
    return {
        "_id": _id,
        "rid": rid,
        "msg": msg,
        "ts": ts,
        "u": author(person),
        "_updatedAt": ts,
        "urls": [],
        "mentions": [],
        "channels": [],
        "md": [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": msg}]}],
        **extra,
    }


def base_documents(
    db,
    users: list[dict] | None = None,
    dashboard_roles: tuple[str, ...] = ("admin",),
    expiration_days: int = 90,
    bypass_roles: tuple[str, ...] = ("admin", "bot", "app"),
) -> None:
    """Users, and what every Rocket.Chat holds: its permissions (who may see the dashboard, who bypasses the rate
    limit: Rocket.Chat's default roles), roles, and the login-expiration setting (in days)."""
    if users:
        db.users.insert_many(list(users))
    made = datetime(2023, 1, 1, tzinfo=UTC)
    db.rocketchat_permissions.insert_many(
        [
            {"_id": DASHBOARD, "roles": list(dashboard_roles), "_updatedAt": made},
            {"_id": "view-statistics", "roles": ["admin"], "_updatedAt": made},
            {"_id": BYPASS, "roles": list(bypass_roles), "_updatedAt": made},
        ]
    )
    db.rocketchat_roles.insert_many(
        [{"_id": r, "name": r, "scope": "Users", "protected": True} for r in ("admin", "user", "bot", "app", "guest")]
    )
    db.rocketchat_settings.insert_one({"_id": "Accounts_LoginExpiration", "value": expiration_days, "type": "int"})


def create_indexes(db, ttl: bool = False) -> None:
    """Rocket.Chat's indexes on what the service reads (the data model lists them); with `ttl`, the sessions' TTL
    too, so that MongoDB deletes what is 45 days old."""
    message_indexes = [
        ([("ts", 1)], {}),
        ([("rid", 1), ("ts", 1), ("_updatedAt", 1)], {}),
        ([("u._id", 1)], {}),
        ([("rid", 1), ("t", 1), ("u._id", 1)], {}),
        ([("tmid", 1)], {"sparse": True}),
        ([("t", 1)], {"sparse": True}),
    ]
    for keys, options in message_indexes:
        db.rocketchat_message.create_index(keys, **options)
    for keys in (
        [("createdAt", -1)],
        [("loginAt", -1)],
        [("ip", 1), ("loginAt", -1)],
        [("userId", 1), ("sessionId", 1)],
        [("type", 1), ("year", 1), ("month", 1), ("day", 1)],
        [("sessionId", 1), ("instanceId", 1), ("year", 1), ("month", 1), ("day", 1)],
    ):
        db.rocketchat_sessions.create_index(keys)
    if ttl:
        db.rocketchat_sessions.create_index([("_computedAt", 1)], expireAfterSeconds=TTL_DAYS * 86_400)
    db.users.create_index([("services.resume.loginTokens.hashedToken", 1)])  # how Rocket.Chat finds a token
    db.rocketchat_room.create_index([("t", 1)])


# -- sessions -----------------------------------------------------------------------------------------------------
TTL_DAYS = 45
DEVICES = [
    {"type": "browser", "name": "Chrome", "longVersion": "124.0.6367.60", "os": {"name": "Windows", "version": "11"}},
    {"type": "browser", "name": "Firefox", "longVersion": "125.0", "os": {"name": "Linux", "version": ""}},
    {"type": "mobile-app", "name": "RC Mobile", "longVersion": "4.48.0", "os": {"name": "Android", "version": "14"}},
    {"type": "desktop-app", "name": "Electron", "longVersion": "4.0.0", "os": {"name": "Mac OS", "version": "14.4"}},
]
# Every `device` a session can carry (the contract's "Clients"): each device.type Rocket.Chat writes, `other`, an
# empty type, a device without a type, and None for a session without `device` at all. A Login takes one of these
# as its `device` (an int still picks from DEVICES, as before).
EVERY_DEVICE: list[dict | None] = [
    {"type": "browser", "name": "Safari", "longVersion": "17.4", "os": {"name": "Mac OS", "version": "14.4"}},
    {"type": "mobile", "name": "Mobile Safari", "longVersion": "17.4", "os": {"name": "iOS", "version": "17.4"}},
    {"type": "tablet", "name": "Chrome", "longVersion": "124.0", "os": {"name": "Android", "version": "14"}},
    {"type": "desktop-app", "name": "Electron", "longVersion": "4.1.0", "os": {"name": "Windows", "version": "11"}},
    {"type": "mobile-app", "name": "RC Mobile", "longVersion": "4.49.0", "os": {"name": "iOS", "version": "17"}},
    {"type": "other", "name": "curl", "longVersion": "8.5.0", "os": {"name": "Linux", "version": ""}},
    {"type": "", "name": "", "longVersion": "", "os": {"name": "", "version": ""}},
    {"name": "unknown", "longVersion": "", "os": {"name": "", "version": ""}},
    None,
]


@dataclass
class Login:
    """One login connection from `start` to `end` (None: still open at `now`). `user_id` None: a connection that
    never logged in (Rocket.Chat writes no userId); `role`: its mostImportantRole (`anonymous` for guests)."""

    user_id: str | None
    role: str
    start: datetime
    end: datetime | None
    logout: bool = False  # ended by a logout (logoutAt), else by the connection closing (closedAt)
    device: int | dict | None = 0  # an index into DEVICES, or the `device` itself (None: the session has none)


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def session_documents(
    logins: list[Login], now: datetime, server: ZoneInfo, ttl: bool = False, prefix: str = "s"
) -> list[dict]:
    """Every `rocketchat_sessions` document Rocket.Chat holds at `now` for these logins, its server's clock in
    `server`:
    - a login writes a `session` dated (year, month, day) by the server's local date, closed later by `closedAt`
      or `logoutAt`, with `lastActivityAt`;
    - at 01:05 a job gives each of yesterday's sessions still open `lastActivityAt` = yesterday 23:59:59.999 and
      copies it into one for today (same `loginAt`, `createdAt` today at 00:00);
    - at 02:00 a job sums yesterday's sessions into `user_daily` documents and renames them `computed-session`;
    - with `ttl`, what was summed more than 45 days ago is gone.
    `prefix` keeps the session ids of separate calls apart."""
    out: list[dict] = []
    for n, login in enumerate(logins):
        sid = f"{prefix}{n:07d}"
        day, created = login.start.astimezone(server).date(), login.start
        while True:
            doc = _session(login, sid, n, day, created)
            copied_at = _local(day + timedelta(days=1), time(1, 5), server)
            if copied_at <= now and (login.end is None or login.end > copied_at):  # still open at 01:05
                doc["lastActivityAt"] = _local(day + timedelta(days=1), time(0), server) - timedelta(milliseconds=1)
                out.append(doc)
                day += timedelta(days=1)
                created = _local(day, time(0), server)
                continue
            if login.end is not None and login.end <= now:
                doc["logoutAt" if login.logout else "closedAt"] = login.end
                doc["lastActivityAt"] = login.end
            out.append(doc)
            break
    sums: dict[str, dict] = {}
    for doc in out:
        day = date(doc["year"], doc["month"], doc["day"])
        summed_at = _local(day + timedelta(days=1), time(2), server)
        if summed_at > now:
            continue
        assert "lastActivityAt" in doc, doc  # closed, or capped at 01:05, before 02:00 of the next day
        doc["type"], doc["_computedAt"] = "computed-session", summed_at
        if "userId" not in doc:
            continue
        key = f"{doc['userId']}-{day.year}-{day.month}-{day.day}"
        seconds = int((doc["lastActivityAt"] - doc["loginAt"]).total_seconds())
        total = sums.setdefault(
            key,
            {
                "_id": key,
                "type": "user_daily",
                "userId": doc["userId"],
                "year": day.year,
                "month": day.month,
                "day": day.day,
                "mostImportantRole": doc["mostImportantRole"],
                "time": 0,
                "sessions": 0,
                "devices": [],
                "_computedAt": summed_at,
            },
        )
        total["time"] += seconds
        total["sessions"] += 1
        total["devices"].append({**doc.get("device", {}), "sessions": 1, "time": seconds})
    docs = out + list(sums.values())
    if ttl:
        docs = [d for d in docs if "_computedAt" not in d or d["_computedAt"] > now - timedelta(days=TTL_DAYS)]
    return docs


def _session(login: Login, sid: str, n: int, day: date, created: datetime) -> dict:
    roles = {"admin": ["user", "admin"], "anonymous": ["anonymous"], "bot": ["bot"]}.get(login.role, ["user"])
    doc = {
        "_id": f"{sid}-{day.isoformat()}",
        "type": "session",
        "sessionId": sid,
        "instanceId": f"instance-{n % 2}",
        "roles": roles,
        "mostImportantRole": login.role,
        "loginAt": login.start,
        "device": DEVICES[login.device % len(DEVICES)] if isinstance(login.device, int) else login.device,
        "ip": f"192.0.2.{n % 250}",
        "host": "chat.example.org",
        "year": day.year,
        "month": day.month,
        "day": day.day,
        "createdAt": created,
        "_updatedAt": created,
    }
    if doc["device"] is None:
        del doc["device"]
    if login.user_id is not None:
        doc["userId"] = login.user_id
    return doc


# How busy each hour of a working day is, 00 to 23 (people log in and chat in office hours, a little at night).
# fmt: off
OFFICE_HOURS = [0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.6, 1.5, 3.0, 4.0, 4.0, 3.0,
                2.0, 3.0, 4.0, 3.5, 3.0, 2.0, 1.0, 0.8, 0.6, 0.5, 0.3, 0.2]
# fmt: on


def workday_logins(
    rng: random.Random, people: list[tuple[str, str]], first: date, last: date, now: datetime, zone: ZoneInfo
) -> list[Login]:
    """Logins from `first` to `last` (none after `now`; those not over by then still open) of (user id, role):
    most weekdays, some weekend days, one to three a day, mostly short, a few left open overnight, some ended by a
    logout; and each day a connection that never logged in and a guest (anonymous)."""
    logins: list[Login] = []
    day = first
    while day <= last:
        weekend = day.weekday() >= 5
        for user_id, role in people:
            if rng.random() > (0.3 if weekend else 0.8):
                continue
            for _ in range(rng.choice((1, 1, 2, 3))):
                hour = rng.choices(range(24), OFFICE_HOURS)[0]
                start = _local(day, time(hour), zone) + timedelta(seconds=rng.uniform(0, 3600))
                minutes = rng.uniform(12 * 60, 30 * 60) if rng.random() < 0.05 else rng.lognormvariate(4, 1)
                end: datetime | None = start + timedelta(minutes=minutes)
                if start > now:
                    continue
                if end is not None and end > now:
                    end = None
                logins.append(Login(user_id, role, start, end, rng.random() < 0.25, rng.randrange(len(DEVICES))))
        start = _local(day, time(0), zone) + timedelta(seconds=rng.uniform(0, 86_400))
        if start <= now:
            logins.append(Login(None, "user", start, min(now, start + timedelta(seconds=20))))
            logins.append(
                Login(f"Guest{day.toordinal():012d}", "anonymous", start, min(now, start + timedelta(hours=1)))
            )
        day += timedelta(days=1)
    return logins

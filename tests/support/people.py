"""A workspace of people for the people reports (users/posting-users, users/clients, users/members), written as
Rocket.Chat writes it (tests/support/rocketchat.py): users of every shape the members table shows, messages of
2024 and of the last days (people posting in seasons, bots, integrations, authors since deleted), and logins from
every client around the DST changes of 2024 and up to now (some still open), with Rocket.Chat's 01:05 copies and
02:00 sums. One call writes it all into an empty database; the tests share it per module."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.support.data import ADMIN_ID, ADMIN_TOKEN
from tests.support.rocketchat import (
    EVERY_DEVICE,
    OFFICE_HOURS,
    Login,
    base_documents,
    create_indexes,
    login_token,
    message_doc,
    meteor_id,
    room_doc,
    session_documents,
    user_doc,
    workday_logins,
)

SERVER = ZoneInfo("Europe/Berlin")  # the zone of Rocket.Chat's own jobs (01:05 copies, 02:00 sums)
# The zones the tests ask in: DST changes (Havana's at midnight, Lord Howe's half hour), +5:30 and +5:45.
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Havana"]
# Usernames whose code-point order differs from a dictionary's: capitals before small letters, accents after z.
ODD_NAMES = ["Zed", "alice", "émile", "Ünal", "_under", "ALICE", "bob", "Bob", "zoë", "0day", "ärger", "Yves"]
# Display names a spreadsheet would run, and one with the CSV's separator and quotes.
HOSTILE_NAMES = {7: "=SUM(A1:A9)", 12: "@channel", 17: "-minus", 22: 'Semi;colon "quoted"', 27: "+plus"}
ROOMS = ["C1", "C2", "P1", "P2", "D1", "D2", "L1", "V1", "GONE"]  # GONE: a room since deleted
ROOM_WEIGHTS = [5, 2, 2, 1, 3, 2, 1, 1, 1]


@dataclass
class People:
    """What was written, by kind, for the tests to check that every kind is there and to pick cases."""

    humans: list[dict] = field(default_factory=list)
    bots: list[dict] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # authors (and session users) without a user document
    anonymous: dict = field(default_factory=dict)


def make_users(rng: random.Random) -> People:
    """50 people (some without username, name, type, roles or createdAt, some deactivated, many of one createdAt),
    three bots (by type bot, type app, role bot), a guest (role anonymous: never a row), three deleted authors."""
    people = People()
    for i in range(50):
        username = ODD_NAMES[i] if i < len(ODD_NAMES) else f"user{i:02d}"
        created = datetime(2022, 1, 10, tzinfo=UTC) if i % 4 == 0 else datetime(2021, 1, 1, tzinfo=UTC)
        created += timedelta(days=rng.randrange(1200), milliseconds=rng.randrange(1000)) if i % 4 else timedelta(0)
        doc = user_doc(meteor_id(rng), username, ["user"], [], createdAt=created)
        if i in HOSTILE_NAMES:
            doc["name"] = HOSTILE_NAMES[i]
        if i % 10 == 3:
            del doc["username"]
        if i % 10 == 4:
            del doc["name"]
        if i % 10 == 6:
            doc["active"] = False
        if i % 7 == 2:
            del doc["createdAt"]
        if i % 9 == 1:
            del doc["type"]
        if i % 11 == 5:
            del doc["roles"]
        people.humans.append(doc)
    people.bots = [
        user_doc("BotUser0000000001", "rocket.cat", ["bot"], [], type="bot"),
        user_doc("AppUser0000000001", "app.poll", ["app"], [], type="app"),
        user_doc("RoleBot0000000001", "helper", ["user", "bot"], []),
    ]
    people.anonymous = user_doc("Guest000000000001", "guest-1", ["anonymous"], [])
    people.gone = ["GoneAuthor0000001", "GoneAuthor0000002", "aGoneAuthor000003"]
    return people


def seasons(rng: random.Random, ids: list[str]) -> dict[str, tuple[date, date]]:
    """When each author posts: one season of a week to a year each, so that distinct authors per week and month
    differ from day to day; a few post only in 2023, a few never."""
    out = {}
    for n, uid in enumerate(ids):
        if n % 8 == 7:
            continue  # never posts
        if n % 8 == 5:
            out[uid] = (date(2023, 11, 1), date(2023, 12, 20))  # posted last in 2023
            continue
        first = date(2023, 11, 1) + timedelta(days=rng.randrange(400))
        out[uid] = (first, first + timedelta(days=rng.choice((7, 20, 45, 120, 400))))
    return out


def one_message(rng: random.Random, mid: str, ts: datetime, author: dict) -> dict:
    """A message by `author` (`_id`, and `username` unless the user has none), some of them not messages sent
    (system messages, hidden edit copies), thread replies, integrations posting as a person (a `bot` field)."""
    doc = message_doc(mid, rng.choices(ROOMS, ROOM_WEIGHTS)[0], ts, {"username": "", **author})
    doc["u"] = {k: v for k, v in doc["u"].items() if v}
    roll = rng.random()
    if roll < 0.06:
        doc["t"] = rng.choice(["uj", "ul", "room_changed_topic"])
    elif roll < 0.08:
        doc["t"] = None  # a null `t` is still a system message's field
    elif roll < 0.12:
        doc.update(_hidden=True, parent=mid)
    elif roll < 0.17:
        doc["tmid"] = "m000000000"
    elif roll < 0.23:
        doc["bot"] = {"i": "integration1"}
    return doc


def make_messages(rng: random.Random, people: People, now: datetime) -> list[dict]:
    """About 12 messages a day from November 2023 to January 2025 and over the last 12 days, by people in their
    seasons, bots and deleted authors; and, for each zone, messages a millisecond either side of the local
    midnights around its DST changes of 2024."""
    humans = [u["_id"] for u in people.humans]
    season = seasons(rng, humans)
    bots = [b["_id"] for b in people.bots]
    authors = {u["_id"]: {k: u[k] for k in ("_id", "username", "name") if k in u} for u in people.humans}
    authors |= {b["_id"]: {"_id": b["_id"], "username": b["username"]} for b in people.bots}
    authors |= {uid: {"_id": uid, "username": uid.lower()} for uid in people.gone}
    docs: list[dict] = []

    def add(ts: datetime, uid: str) -> None:
        docs.append(one_message(rng, f"m{len(docs):09d}", ts, authors[uid]))

    recent = (now - timedelta(days=12)).date()
    days = [date(2023, 11, 1) + timedelta(days=i) for i in range(437)]
    days += [recent + timedelta(days=i) for i in range((now.date() - recent).days + 1)]
    for day in days:
        posting = [uid for uid, (a, b) in season.items() if a <= day <= b or day >= recent]
        for _ in range(rng.randrange(4, 20)):
            hour = rng.choices(range(24), OFFICE_HOURS)[0]
            ts = datetime.combine(day, time(hour), tzinfo=UTC) + timedelta(milliseconds=rng.randrange(3_600_000))
            if ts > now:
                continue
            roll = rng.random()
            if roll < 0.12 or not posting:
                add(ts, rng.choice(bots))
            elif roll < 0.15 and day < date(2024, 6, 1):
                add(ts, rng.choice(people.gone))
            else:
                add(ts, rng.choice(posting))
    for name in ZONES:
        zone = ZoneInfo(name)
        for change in dst_changes(zone, 2024):
            local = change.astimezone(zone).date()
            for day in (local - timedelta(days=1), local, local + timedelta(days=1)):
                midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
                for ts in (midnight - timedelta(milliseconds=1), midnight, change - timedelta(milliseconds=1)):
                    add(ts, rng.choice([*humans[:20], *bots, *people.gone]))
    return docs


def dst_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    """Every instant the zone's offset changes in `year`, found a quarter hour at a time."""
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    while t.year == year:
        nxt = t + timedelta(minutes=15)
        if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            out.append(nxt)
        t = nxt
    return out


def make_logins(rng: random.Random, people: People, now: datetime) -> list[Login]:
    """Everyone's logins around the DST changes of spring and autumn 2024 and over the last ten days (some still
    open), from every client (each device.type, `other`, empty, none); the guest's, and deleted users'; a few
    people never log in; and sessions across local midnights and DST changes, by hand."""
    who = [(u["_id"], "user") for n, u in enumerate(people.humans) if n % 6 != 5]  # every sixth never logs in
    who += [(b["_id"], "bot") for b in people.bots] + [(uid, "user") for uid in people.gone]
    who.append((people.anonymous["_id"], "anonymous"))
    logins = []
    for first, last in [(date(2024, 3, 1), date(2024, 4, 12)), (date(2024, 9, 28), date(2024, 11, 8))]:
        logins += workday_logins(rng, who[::2] if first.month == 3 else who[1::2] + who[:6], first, last, now, SERVER)
    logins += workday_logins(rng, who, (now - timedelta(days=9)).date(), now.date(), now, SERVER)
    for login in logins:
        login.device = rng.choice(EVERY_DEVICE)
    edge = people.humans[1]["_id"]  # alice
    for start, hours, device in [
        (datetime(2024, 3, 10, 4, 50, tzinfo=UTC), 2, 0),  # Havana 23:50 -> 01:50, across its skipped midnight
        (datetime(2024, 3, 31, 0, 55, tzinfo=UTC), 0.2, 1),  # Berlin's skipped 02:00-03:00
        (datetime(2024, 4, 6, 14, 40, tzinfo=UTC), 1, 2),  # Lord Howe's repeated half hour
        (datetime(2024, 10, 5, 15, 10, tzinfo=UTC), 0.5, 3),  # Lord Howe's skipped half hour
        (datetime(2024, 3, 15, 23, 59, 59, tzinfo=UTC), 0.001, 4),  # a few seconds across UTC midnight
        (datetime(2024, 10, 26, 21, 30, tzinfo=UTC), 30, 5),  # Berlin: across two midnights, its 25-hour day
        (datetime(2024, 11, 3, 5, 40, tzinfo=UTC), 0.5, 6),  # New York's repeated 01:00-02:00
        (datetime(2024, 3, 19, 18, 14, tzinfo=UTC), 0.02, 7),  # Kathmandu's midnight (18:15 UTC)
        (datetime(2024, 3, 12, 18, 29, 59, tzinfo=UTC), 0.001, 8),  # Kolkata's midnight (18:30 UTC)
    ]:
        logins.append(Login(edge, "user", start, start + timedelta(hours=hours), device=EVERY_DEVICE[device]))
    open_device = EVERY_DEVICE[3]  # the desktop app, left open for two days: copied at 01:05 twice
    logins.append(Login(people.humans[2]["_id"], "user", now - timedelta(days=2, hours=1), None, device=open_device))
    return logins


def seed_people(db, seed: int = 24, now: datetime | None = None) -> People:
    """Write the whole workspace (the admin the tests sign in as among its users, rooms, messages, sessions)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    people = make_users(rng)
    admin = user_doc(ADMIN_ID, "admin", ["user", "admin"], [login_token(ADMIN_TOKEN, now - timedelta(days=1))])
    base_documents(db, [admin, *people.humans, *people.bots, people.anonymous])
    db.rocketchat_room.insert_many(
        [
            room_doc("C1", "c", "general"),
            room_doc("C2", "c", "random"),
            room_doc("P1", "p", "secret"),
            room_doc("P2", "p", "a-discussion", prid="C1"),
            room_doc("D1", "d", usernames=["alice", "bob"]),
            room_doc("D2", "d", usernames=["bob", "rocket.cat"]),
            room_doc("L1", "l", "visitor"),
            room_doc("V1", "v", "call"),
        ]
    )
    db.rocketchat_message.insert_many(make_messages(rng, people, now))
    db.rocketchat_sessions.insert_many(session_documents(make_logins(rng, people, now), now, SERVER))
    return people


def seeded_workspace(sync_client, prefix: str, seed: int = 24) -> Iterator:
    """For a module's fixture: a fresh database with Rocket.Chat's indexes and the whole workspace, dropped (with
    its state database) when the module is done."""
    name = prefix + uuid.uuid4().hex[:12]
    db = sync_client[name]
    create_indexes(db)
    seed_people(db, seed=seed)
    yield db
    sync_client.drop_database(name)
    sync_client.drop_database(name + "_state")

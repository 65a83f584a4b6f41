"""Rocket.Chat-shaped test data: the users every test signs in as, rooms full of messages, and a whole workspace
(people, rooms, messages and logins) for the tests that look at the dashboard as a person would."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tests.support.rocketchat import (
    OFFICE_HOURS,
    Login,
    base_documents,
    create_indexes,
    login_token,
    message_doc,
    meteor_id,
    personal_access_token,
    room_doc,
    session_documents,
    user_doc,
    workday_logins,
)

ADMIN_ID, ADMIN_TOKEN = "AdminUserId000001", "admin-token-raw-value"
USER_ID, USER_TOKEN = "PlainUserId000001", "plain-token-raw-value"
ADMIN_HEADERS = {"X-User-Id": ADMIN_ID, "X-Auth-Token": ADMIN_TOKEN}
AUTHOR = {"_id": "AuthorId000000001", "username": "author", "name": "Author"}
# A user who may see the dashboard through a role of its own, without the admin's bypass of the rate limit.
ANALYST = {"X-User-Id": "AnalystUser000001", "X-Auth-Token": "analyst-token"}


def add_analysts(db, *named: tuple[dict[str, str], str]) -> None:
    """Users (their headers and username) holding the role `analyst`, which is given view-engagement-dashboard."""
    now = datetime.now(UTC)
    for headers, name in named:
        db.users.insert_one(
            user_doc(headers["X-User-Id"], name, ["user", "analyst"], [login_token(headers["X-Auth-Token"], now)])
        )
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$push": {"roles": "analyst"}})


def fill(db, start: datetime, days: int, per_day: int, seed: int = 3, prefix: str = "m") -> list[dict]:
    """Random messages in c, p, d and l rooms, some of them system messages or hidden copies."""
    rng = random.Random(seed)
    if db.rocketchat_room.count_documents({}) == 0:
        db.rocketchat_room.insert_many(
            [
                room_doc("C1", "c", "a"),
                room_doc("P1", "p", "b"),
                room_doc("D1", "d", usernames=["x", "y"]),
                room_doc("L1", "l", "v"),
            ]
        )
    docs = []
    for i in range(days * per_day):
        ts = start + timedelta(seconds=rng.uniform(0, days * 86_400))
        doc = message_doc(
            f"{prefix}{i:07d}",
            rng.choice(["C1", "P1", "D1", "L1"]),
            ts.replace(microsecond=ts.microsecond // 1000 * 1000),
            AUTHOR,
        )
        roll = rng.random()
        if roll < 0.05:
            doc["t"] = "uj"
        elif roll < 0.07:
            doc["_hidden"] = True
        docs.append(doc)
    db.rocketchat_message.insert_many(docs)
    return docs


class Credentials(NamedTuple):
    admin_id: str
    admin_token: str
    user_id: str
    user_token: str


WORDS = [
    "deploy",
    "release",
    "review",
    "meeting",
    "lunch",
    "build",
    "ticket",
    "customer",
    "design",
    "merge",
    "docs",
    "coffee",
    "incident",
    "sprint",
]


def seed_workspace(db, days: int, per_day: int, seed: int = 7, now: datetime | None = None) -> Credentials:
    """A lived-in workspace over the `days` up to `now`: an admin (with a personal access token), a user without
    the dashboard's permission, 24 more people and Rocket.Chat's bot; `#general` (with a display name of its
    own: "General") the busiest of channels, private groups, a team and its discussion, direct rooms, livechat and
    voip rooms; messages in office hours, fewer at weekends, with system messages, thread replies, edits (their
    hidden copies), bot messages and files; and everyone's logins of the last 30 days, as Rocket.Chat keeps them."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    server = ZoneInfo("Europe/Berlin")
    admin_token, user_token = "admin-" + meteor_id(rng), "jdoe-" + meteor_id(rng)
    admin = user_doc(
        meteor_id(rng),
        "admin",
        ["user", "admin"],
        [login_token(admin_token, now - timedelta(days=1)), personal_access_token("pat-" + meteor_id(rng))],
    )
    jdoe = user_doc(meteor_id(rng), "jdoe", ["user"], [login_token(user_token, now - timedelta(hours=2))])
    bot = user_doc("rocket.cat", "rocket.cat", ["bot"], type="bot")
    people = [
        user_doc(meteor_id(rng), f"{first}.{last}", createdAt=now - timedelta(days=rng.uniform(0, days)))
        for first in ("ada", "bo", "cyd", "dee", "eli", "fay")
        for last in ("ng", "roe", "kim", "diaz")
    ]
    humans = [admin, jdoe, *people]
    base_documents(db, [admin, jdoe, bot, *people])
    create_indexes(db)
    rooms = [room_doc("GENERAL", "c", "general", fname="General", default=True)]
    rooms += [room_doc(meteor_id(rng), "c", f"{w}-talk") for w in WORDS]
    rooms += [room_doc(meteor_id(rng), "p", f"private-{w}") for w in WORDS[:5]]
    team = room_doc(meteor_id(rng), "c", "team-platform", teamMain=True, teamId=meteor_id(rng))
    rooms += [team, room_doc(meteor_id(rng), "p", "discussion-roadmap", prid=team["_id"])]
    for _ in range(16):
        a, b = rng.sample(humans, 2)
        rooms.append(room_doc(meteor_id(rng), "d", usernames=[a["username"], b["username"]], uids=[a["_id"], b["_id"]]))
    rooms += [room_doc(meteor_id(rng), "l", f"visitor-{i}", v={"token": meteor_id(rng)}) for i in range(3)]
    rooms.append(room_doc(meteor_id(rng), "v", "call-1"))
    db.rocketchat_room.insert_many(rooms)
    weights = [1 / (rank + 1) for rank in range(len(rooms))]
    messages: list[dict] = []
    for offset in range(days, -1, -1):
        day = (now - timedelta(days=offset)).astimezone(server).date()
        for _ in range(int(per_day * (0.3 if day.weekday() >= 5 else 1.0))):
            hour = rng.choices(range(24), OFFICE_HOURS)[0]
            ts = datetime(day.year, day.month, day.day, hour, tzinfo=server).astimezone(UTC)
            ts += timedelta(seconds=rng.randrange(3600), milliseconds=rng.randrange(1000))
            if ts > now:
                continue
            where, person = rng.choices(rooms, weights)[0], rng.choice(humans)
            doc = message_doc(meteor_id(rng), where["_id"], ts, person, " ".join(rng.choices(WORDS, k=5)))
            roll = rng.random()
            if roll < 0.05:
                doc.update(t=rng.choice(["uj", "ul", "room_changed_topic"]), msg=person["username"])
            elif roll < 0.09 and messages:
                doc["tmid"] = messages[-1]["_id"]
            elif roll < 0.12:
                doc.update(u={"_id": bot["_id"], "username": bot["username"], "name": "Rocket.Cat"}, bot={"i": "ci"})
            elif roll < 0.14:
                doc.update(file={"_id": meteor_id(rng), "name": "a.pdf"}, attachments=[{"title": "a.pdf"}])
            elif roll < 0.16:
                edited = ts + timedelta(minutes=5)
                messages.append({**doc, "_id": meteor_id(rng), "_hidden": True, "parent": doc["_id"]})
                doc.update(editedAt=edited, editedBy={"_id": person["_id"]}, _updatedAt=edited)
            messages.append(doc)
    db.rocketchat_message.insert_many(messages)
    logged = [(h["_id"], "admin" if "admin" in h["roles"] else "user") for h in humans]
    first = (now - timedelta(days=min(days, 30))).astimezone(server).date()
    logins = workday_logins(rng, logged, first, now.astimezone(server).date(), now, server)
    logins.append(Login(bot["_id"], "bot", now - timedelta(days=1, hours=2), None))
    db.rocketchat_sessions.insert_many(session_documents(logins, now, server))
    return Credentials(admin["_id"], admin_token, jdoe["_id"], user_token)

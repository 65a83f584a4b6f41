"""A realistic Rocket.Chat database for the demo (and documents shaped like Rocket.Chat's for the tests).

Deterministic for a given seed and `now`: users with login tokens, channels, private groups, teams,
discussions, direct rooms, livechat and voip rooms, and months of messages with a daily and weekly rhythm,
system messages, hidden edit-history copies, thread replies, bot messages and file uploads.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.demo.sessions import Index, Login, create_session_indexes, daily_logins, session_documents
from engagement_svc.mongo_types import Document, SyncDatabase
from engagement_svc.rocketchat.auth import PERMISSION, hash_token

METEOR_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

# The indexes every Rocket.Chat database has on the collections the service reads.
MESSAGE_INDEXES: list[Index] = [
    ([("ts", 1)], {}),
    ([("rid", 1), ("ts", 1), ("_updatedAt", 1)], {}),
    ([("u._id", 1)], {}),
    ([("rid", 1), ("t", 1), ("u._id", 1)], {}),
    ([("tmid", 1)], {"sparse": True}),
    ([("t", 1)], {"sparse": True}),
]


def meteor_id(rng: random.Random) -> str:
    return "".join(rng.choice(METEOR_ALPHABET) for _ in range(17))


def create_indexes(db: SyncDatabase) -> None:
    for keys, options in MESSAGE_INDEXES:
        db.rocketchat_message.create_index(keys, **options)
    db.rocketchat_room.create_index([("t", 1)])
    db.users.create_index([("services.resume.loginTokens.hashedToken", 1)])
    create_session_indexes(db, ttl=False)


def user_doc(_id: str, username: str, roles: list[str], tokens: list[Document], **extra: object) -> Document:
    return {
        "_id": _id,
        "username": username,
        "name": username.replace(".", " ").title(),
        "type": "user",
        "active": True,
        "roles": roles,
        "status": "offline",
        "createdAt": datetime(2022, 1, 10, tzinfo=UTC),
        "services": {"resume": {"loginTokens": tokens}},
        **extra,
    }


def login_token(token: str, when: datetime) -> Document:
    return {"when": when, "hashedToken": hash_token(token)}


def personal_access_token(token: str, name: str = "ci") -> Document:
    return {
        "type": "personalAccessToken",
        "name": name,
        "createdAt": datetime(2023, 1, 1, tzinfo=UTC),
        "lastTokenPart": token[-6:],
        "hashedToken": hash_token(token),
        "bypassTwoFactor": True,
    }


def room_doc(_id: str, t: str, name: str | None = None, **extra: object) -> Document:
    doc: Document = {
        "_id": _id,
        "t": t,
        "ts": datetime(2022, 1, 10, tzinfo=UTC),
        "msgs": 0,
        "usersCount": 2,
        "_updatedAt": datetime(2022, 1, 10, tzinfo=UTC),
        **extra,
    }
    if name is not None:
        doc.update(name=name, fname=name)
    return doc


def message_doc(_id: str, rid: str, ts: datetime, user: Document, msg: str = "hello", **extra: object) -> Document:
    return {
        "_id": _id,
        "rid": rid,
        "msg": msg,
        "ts": ts,
        "u": {"_id": user["_id"], "username": user["username"], "name": user.get("name", user["username"])},
        "_updatedAt": ts,
        "urls": [],
        "mentions": [],
        "channels": [],
        "md": [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": msg}]}],
        **extra,
    }


def base_documents(
    db: SyncDatabase,
    users: list[Document],
    dashboard_roles: tuple[str, ...] = ("admin",),
    expiration_days: int = 90,
    bypass_roles: tuple[str, ...] = ("admin", "bot", "app"),
) -> None:
    """Users, the dashboard and rate-limit-bypass permissions (Rocket.Chat's default roles), roles and the
    login-expiration setting."""
    if users:
        db.users.insert_many(users)
    db.rocketchat_permissions.insert_many(
        [
            {"_id": PERMISSION, "roles": list(dashboard_roles), "_updatedAt": datetime(2023, 1, 1, tzinfo=UTC)},
            {"_id": "view-statistics", "roles": ["admin"], "_updatedAt": datetime(2023, 1, 1, tzinfo=UTC)},
            {
                "_id": "api-bypass-rate-limit",
                "roles": list(bypass_roles),
                "_updatedAt": datetime(2023, 1, 1, tzinfo=UTC),
            },
        ]
    )
    db.rocketchat_roles.insert_many(
        [{"_id": r, "name": r, "scope": "Users", "protected": True} for r in ("admin", "user", "bot", "livechat-agent")]
    )
    db.rocketchat_settings.insert_one({"_id": "Accounts_LoginExpiration", "value": expiration_days, "type": "int"})


@dataclass(frozen=True)
class DemoCredentials:
    admin_id: str
    admin_token: str
    user_id: str
    user_token: str
    messages: int


# How busy each hour of the day is (00-23), for messages spread the way people chat.
# fmt: off
HOUR_WEIGHTS = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 4, 4, 3.5,
                2.5, 3.5, 4, 3.5, 3, 2, 1.2, 1, 0.8, 0.6, 0.4, 0.3]
# fmt: on
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
    "patch",
    "sprint",
    "demo",
    "roadmap",
    "metrics",
    "alert",
    "backup",
    "invoice",
    "question",
    "answer",
    "thanks",
    "great",
    "idea",
    "tomorrow",
]
SYSTEM_TYPES = ["uj", "ul", "au", "ru", "room_changed_topic", "user-muted", "discussion-created"]


def _channel_tab_cases(
    db: SyncDatabase, rng: random.Random, now: datetime, rooms: list[Document], humans: list[Document], jdoe: Document
) -> list[Document]:
    """What the channels tab must stay right on: a renamed room (its new name and fname, updated lately), a room
    whose messages are only in the week before last (listed with 0 this week), messages of a deleted room (never
    listed), an app user's messages and an integration posting as a person (bots)."""
    renamed = rooms[3]
    db.rocketchat_room.update_one(
        {"_id": renamed["_id"]},
        {"$set": {"name": "renamed-" + renamed["name"], "fname": "Renamed " + renamed["name"], "_updatedAt": now}},
    )
    made = now - timedelta(days=100)
    quiet = room_doc(meteor_id(rng), "c", "quiet-last-week", ts=made, _updatedAt=made)
    app = user_doc(meteor_id(rng), "app.poll", ["app"], [], type="app")
    db.rocketchat_room.insert_one(quiet)
    db.users.insert_one(app)
    general = rooms[0]["_id"]
    out = []
    for _ in range(40):
        ts = now - timedelta(days=rng.uniform(8, 13))
        out.append(message_doc(meteor_id(rng), quiet["_id"], ts, rng.choice(humans), "before the week"))
        ts = now - timedelta(days=rng.uniform(0, 20))
        out.append(message_doc(meteor_id(rng), meteor_id(rng)[:5] + "-deleted", ts, rng.choice(humans), "gone"))
        ts = now - timedelta(days=rng.uniform(0, 60))
        out.append(message_doc(meteor_id(rng), general, ts, app, "poll results"))
        ts = now - timedelta(days=rng.uniform(0, 60))
        out.append(message_doc(meteor_id(rng), general, ts, jdoe, "build passed", bot={"i": "ci-integration"}))
    return [m for m in out if m["ts"] <= now]


def _sign_ups(db: SyncDatabase, rng: random.Random, now: datetime, days: int, people: list[Document]) -> None:
    """When the demo's people joined (over the whole period), and a few sign-ups this month: guests (anonymous,
    never counted) and a bot."""
    for person in people:
        db.users.update_one({"_id": person["_id"]}, {"$set": {"createdAt": now - timedelta(days=rng.uniform(0, days))}})
    newcomers = [
        user_doc(meteor_id(rng), f"guest-{i}", ["anonymous"] if i % 3 == 0 else ["user"], [])
        | {"createdAt": now - timedelta(days=rng.uniform(0, 30))}
        for i in range(24)
    ]
    newcomers.append(
        user_doc(meteor_id(rng), "standup.bot", ["bot"], [], type="bot", createdAt=now - timedelta(days=3))
    )
    db.users.insert_many(newcomers)


SESSION_DAYS = 60  # logins over the last 60 days; the TTL has deleted what is older than 45 days


def _sessions(
    db: SyncDatabase, rng: random.Random, now: datetime, tz: ZoneInfo, humans: list[Document], bot: Document
) -> None:
    """The people's logins, as Rocket.Chat records them (its jobs and TTL replayed up to now), and a bot's API
    session."""
    users = [(h["_id"], "admin" if "admin" in h["roles"] else "user") for h in humans]
    first = (now - timedelta(days=SESSION_DAYS)).astimezone(tz).date()
    logins = daily_logins(rng, users, first, now.astimezone(tz).date(), now, tz, HOUR_WEIGHTS)
    logins.append(Login(bot["_id"], "bot", now - timedelta(days=2, hours=3), None, device=1))
    create_session_indexes(db)
    db.rocketchat_sessions.insert_many(session_documents(logins, now, tz, rng))


def seed_demo(
    db: SyncDatabase,
    now: datetime | None = None,
    days: int = 240,
    per_day: int = 260,
    seed: int = 20231105,
    zone: str = "Europe/Berlin",
) -> DemoCredentials:
    """Fill an empty database; `days` ends at `now` and (at 240) always contains a DST change of `zone`."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    tz = ZoneInfo(zone)
    admin_token, user_token = "demo-admin-" + meteor_id(rng), "demo-user-" + meteor_id(rng)
    admin = user_doc(
        meteor_id(rng),
        "admin",
        ["user", "admin"],
        [login_token(admin_token, now - timedelta(days=1)), personal_access_token("pat-" + meteor_id(rng))],
    )
    jdoe = user_doc(meteor_id(rng), "jdoe", ["user"], [login_token(user_token, now - timedelta(hours=3))])
    bot = user_doc("rocket.cat", "rocket.cat", ["bot"], [], type="bot")
    people = [
        user_doc(meteor_id(rng), f"{first}.{last}", ["user"], [])
        for first in ("ana", "ben", "chen", "dina", "emil", "fatma", "goran", "hana")
        for last in ("silva", "meyer", "khan", "ito")
    ]
    humans = [admin, jdoe, *people]
    base_documents(db, [admin, jdoe, bot, *people])
    create_indexes(db)

    rooms: list[Document] = [room_doc("GENERAL", "c", "general", default=True)]
    rooms += [room_doc(meteor_id(rng), "c", f"{w}-{i}") for i, w in enumerate(WORDS[:30])]
    rooms += [room_doc(meteor_id(rng), "p", f"private-{w}") for w in WORDS[:10]]
    team = room_doc(meteor_id(rng), "c", "team-platform", teamMain=True, teamId=meteor_id(rng))
    rooms.append(team)
    rooms += [room_doc(meteor_id(rng), "p", f"discussion-{w}", prid=team["_id"]) for w in WORDS[10:13]]
    for _ in range(40):
        a, b = rng.sample(humans, 2)
        rooms.append(
            room_doc(meteor_id(rng), "d", None, usernames=[a["username"], b["username"]], uids=[a["_id"], b["_id"]])
        )
    rooms += [
        room_doc(meteor_id(rng), "l", f"visitor-{i}", v={"_id": meteor_id(rng), "token": meteor_id(rng)})
        for i in range(20)
    ]
    rooms += [room_doc(meteor_id(rng), "v", f"call-{i}") for i in range(3)]
    # Two teams (the team selector's choices): platform, public, with its main room and three channels; security,
    # private, a private group as its main room. Their ids are fixed, so the rest of the workspace stays as it was.
    platform, security = team["teamId"], "SecurityTeam00001"
    for room in rooms[1:4]:
        room["teamId"] = platform
    rooms[31].update(teamId=security, teamMain=True)
    db.rocketchat_room.insert_many(rooms)
    db.rocketchat_team.insert_many(
        [
            {
                "_id": platform,
                "name": "platform",
                "type": 0,
                "roomId": team["_id"],
                "createdAt": now - timedelta(days=90),
            },
            {"_id": security, "name": "security", "type": 1, "roomId": rooms[31]["_id"], "createdAt": now},
        ]
    )

    weights = [1.0 / (rank + 1) for rank in range(len(rooms))]
    messages: list[Document] = []
    recent: dict[str, list[str]] = {}
    first_day = (now - timedelta(days=days)).astimezone(tz).date()
    for offset in range(days + 1):
        day = first_day + timedelta(days=offset)
        rhythm = 0.3 if day.weekday() >= 5 else 1.0
        for _ in range(int(rng.gauss(per_day, per_day / 8) * rhythm)):
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            local = datetime(
                day.year,
                day.month,
                day.day,
                hour,
                rng.randrange(60),
                rng.randrange(60),
                rng.randrange(1000) * 1000,
                tzinfo=tz,
            )
            ts = local.astimezone(UTC)
            if ts > now:
                continue
            room = rng.choices(rooms, weights)[0]
            author = rng.choice(humans)
            text = " ".join(rng.choices(WORDS, k=rng.randint(2, 12)))
            doc = message_doc(meteor_id(rng), room["_id"], ts, author, text)
            roll = rng.random()
            if roll < 0.05:
                doc["t"] = rng.choice(SYSTEM_TYPES)
                doc["msg"] = author["username"]
            elif roll < 0.08 and recent.get(room["_id"]):
                doc["tmid"] = rng.choice(recent[room["_id"]][-20:])
            elif roll < 0.10 and room["t"] == "c":
                doc["u"] = {"_id": bot["_id"], "username": bot["username"], "name": "Rocket.Cat"}
                doc["bot"] = {"i": meteor_id(rng)}
            elif roll < 0.12:
                file_id = meteor_id(rng)
                doc["file"] = {"_id": file_id, "name": "report.pdf", "type": "application/pdf"}
                doc["attachments"] = [{"title": "report.pdf", "title_link": f"/file-upload/{file_id}/report.pdf"}]
            elif roll < 0.13:
                edited = ts + timedelta(minutes=rng.randint(1, 90))
                messages.append(
                    {**doc, "_id": meteor_id(rng), "_hidden": True, "parent": doc["_id"], "_updatedAt": edited}
                )
                doc.update(
                    editedAt=edited,
                    editedBy={"_id": author["_id"], "username": author["username"]},
                    msg=doc["msg"] + " (edited)",
                    _updatedAt=edited,
                )
            if room["t"] == "l":
                doc["token"] = room["v"]["token"]
            if "t" not in doc and "tmid" not in doc:
                recent.setdefault(room["_id"], []).append(doc["_id"])
            messages.append(doc)
    messages += _channel_tab_cases(db, random.Random(seed + 1), now, rooms, humans, jdoe)
    _sign_ups(db, random.Random(seed + 2), now, days, people)
    _sessions(db, random.Random(seed + 3), now, tz, humans, bot)
    for i in range(0, len(messages), 5000):
        db.rocketchat_message.insert_many(messages[i : i + 5000], ordered=False)
    return DemoCredentials(admin["_id"], admin_token, jdoe["_id"], user_token, len(messages))

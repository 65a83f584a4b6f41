"""The benchmark's deterministic Rocket.Chat-shaped dataset, and Rocket.Chat's own counters built from it.

Default: 3,000,000 messages over 120 days in 500 channel/private/direct rooms plus livechat rooms, about 5%
system messages, 1% hidden edit copies, 3% thread replies, with a daily and weekly rhythm. Past 1,000 rooms the
first 1,000's mix (a fifth channels, a tenth private groups) carries on, so that a big dataset has many quiet channels
(the silent list's rows). A quarter of the channels and private groups belong to one of `TEAMS` teams (team 0 holds
the busiest room), as Rocket.Chat stores them (`rocketchat_team`, the rooms' `teamId`, the main room's `teamMain`).
Generated once per database and reused while its description (in `engagement_bench_meta`) matches. Its logins
(`add_sessions`: 3,000 users logging in about 600 times a day, in `rocketchat_sessions`) are added once to a dataset
that has none.
"""

from __future__ import annotations

import bisect
import random
import time
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from engagement_svc.demo.dataset import (
    HOUR_WEIGHTS,
    base_documents,
    create_indexes,
    login_token,
    meteor_id,
    room_doc,
    user_doc,
)

BENCH_USER_ID, BENCH_TOKEN = "BenchAdmin0000001", "bench-admin-token"
DAY_WEIGHTS = [1.0, 1.05, 1.05, 1.0, 0.9, 0.3, 0.25]  # Monday .. Sunday
TEAMS = 10


def team_id(k: int) -> str:
    return f"BenchTeam{k:07d}"


def room_kinds(rooms: int) -> list[str]:
    """The rooms' types by rank (rank 0 the busiest): 200 channels, 100 private groups, the rest direct, then past
    1,000 rooms the same mix in every ten."""
    if rooms < 300:
        return ["c"] * rooms
    head = ["c"] * 200 + ["p"] * 100 + ["d"] * (min(rooms, 1000) - 300)
    return head + [("c", "c", "p", "d", "d", "d", "d", "d", "d", "d")[i % 10] for i in range(rooms - len(head))]


def add_teams(room_docs: list[dict], created: datetime) -> list[dict]:
    """Every fourth channel or private group (by rank) joins team (its count / 4) % TEAMS; each team's first room is
    its main room. Returns the `rocketchat_team` documents (teams with no room are left out)."""
    teams: dict[int, dict] = {}
    grouped = [r for r in room_docs if r["t"] in ("c", "p")]
    for n, room in enumerate(grouped[::4]):
        k = n % TEAMS
        room["teamId"] = team_id(k)
        if k not in teams:
            room["teamMain"] = True
            teams[k] = {
                "_id": team_id(k),
                "name": f"team-{k}",
                "type": k % 2,
                "roomId": room["_id"],
                "createdAt": created,
            }
    return [teams[k] for k in sorted(teams)]


def describe(messages: int, days: int, rooms: int) -> dict:
    return {"_id": "dataset", "messages": messages, "days": days, "rooms": rooms, "version": 4}


def existing_anchor(db, messages: int, days: int, rooms: int) -> datetime | None:
    meta = db.engagement_bench_meta.find_one({"_id": "dataset"})
    if meta and all(meta.get(k) == v for k, v in describe(messages, days, rooms).items()) and meta.get("complete"):
        return meta["anchor"]
    return None


def generate(
    db,
    messages: int = 3_000_000,
    days: int = 120,
    rooms: int = 500,
    anchor: datetime | None = None,
    seed: int = 42,
    progress=print,
) -> datetime:
    """Drop and refill `db`; returns the anchor (the instant the data ends)."""
    rng = random.Random(seed)
    anchor = (anchor or datetime.now(UTC)).replace(microsecond=0)
    for name in db.list_collection_names():
        db.drop_collection(name)
    now = datetime.now(UTC)
    users = [user_doc(BENCH_USER_ID, "bench.admin", ["user", "admin"], [login_token(BENCH_TOKEN, now)])]
    users += [user_doc(meteor_id(rng), f"user{i}", ["user"], []) for i in range(300)]
    base_documents(db, users)
    create_indexes(db)
    room_docs = [
        room_doc(meteor_id(rng), t, None if t == "d" else f"room-{i}") for i, t in enumerate(room_kinds(rooms))
    ]
    room_docs += [room_doc(meteor_id(rng), "l", f"visitor-{i}") for i in range(50)]
    teams = add_teams(room_docs, anchor - timedelta(days=days + 30))
    db.rocketchat_room.insert_many(room_docs)
    if teams:
        db.rocketchat_team.insert_many(teams)
    db.rocketchat_room.create_index([("teamId", 1), ("teamMain", 1)], sparse=True)  # Rocket.Chat's own
    rids = [r["_id"] for r in room_docs]
    room_cumulative = _cumulative([1.0 / (i + 1) ** 0.8 for i in range(len(rids))])
    authors = [{"_id": u["_id"], "username": u["username"], "name": u["name"]} for u in users]

    # Messages per day follow the weekly rhythm; within a day, the hourly one.
    first = (anchor - timedelta(days=days)).replace(hour=0, minute=0, second=0)
    day_starts = [first + timedelta(days=i) for i in range(days + 1)]
    weights = [DAY_WEIGHTS[d.weekday()] for d in day_starts]
    per_day = [int(messages * w / sum(weights)) for w in weights]
    per_day[-1] += messages - sum(per_day)
    started, written, recent = time.monotonic(), 0, list[str]()
    batch: list[dict] = []
    for day_start, count in zip(day_starts, per_day, strict=True):
        hours = rng.choices(range(24), HOUR_WEIGHTS, k=count)
        for hour in hours:
            ts = day_start + timedelta(hours=hour, seconds=rng.random() * 3600)
            if ts > anchor:
                ts = anchor - timedelta(seconds=rng.random() * 3600)
            roll = rng.random()
            author = authors[rng.randrange(len(authors))]
            room = min(bisect.bisect_left(room_cumulative, rng.random()), len(rids) - 1)
            doc = {
                "_id": str(ObjectId()),
                "rid": rids[room],
                "msg": "lorem ipsum dolor",
                "ts": ts.replace(microsecond=ts.microsecond // 1000 * 1000),
                "u": author,
                "_updatedAt": ts,
                "urls": [],
                "mentions": [],
                "channels": [],
            }
            if roll < 0.05:
                doc["t"] = "uj" if roll < 0.03 else "ul"
            elif roll < 0.06:
                doc["_hidden"] = True
                doc["parent"] = recent[-1] if recent else doc["_id"]
            elif roll < 0.09 and recent:
                doc["tmid"] = recent[rng.randrange(len(recent))]
            else:
                recent.append(doc["_id"])
                if len(recent) > 200:
                    del recent[:100]
            batch.append(doc)
            if len(batch) == 20_000:
                db.rocketchat_message.insert_many(batch, ordered=False)
                written += len(batch)
                batch = []
                if written % 500_000 == 0:
                    progress(f"  generated {written:,} messages ({time.monotonic() - started:.0f} s)")
    if batch:
        db.rocketchat_message.insert_many(batch, ordered=False)
    build_analytics(db)
    db.engagement_bench_meta.replace_one(
        {"_id": "dataset"},
        describe(messages, days, rooms)
        | {"anchor": anchor, "complete": True, "generated_seconds": time.monotonic() - started},
        upsert=True,
    )
    return anchor


def _cumulative(weights: list[float]) -> list[float]:
    total, running, out = sum(weights), 0.0, []
    for w in weights:
        running += w / total
        out.append(running)
    return out


def build_analytics(db) -> None:
    """Rocket.Chat's `rocketchat_analytics` messages counters (one per room per UTC day, numeric date), as its
    afterSaveMessage callback would have left them for these messages (before any edit or deletion)."""
    db.rocketchat_analytics.drop()
    db.rocketchat_message.aggregate(
        [
            {"$match": {"t": {"$exists": False}, "_hidden": {"$ne": True}}},
            {
                "$group": {
                    "_id": {"rid": "$rid", "date": {"$toInt": {"$dateToString": {"date": "$ts", "format": "%Y%m%d"}}}},
                    "messages": {"$sum": 1},
                }
            },
            {"$lookup": {"from": "rocketchat_room", "localField": "_id.rid", "foreignField": "_id", "as": "room"}},
            {"$unwind": "$room"},
            {"$match": {"room.t": {"$in": ["c", "p", "d"]}}},
            {
                "$project": {
                    "_id": {"$concat": ["$_id.rid", "-", {"$toString": "$_id.date"}]},
                    "type": "messages",
                    "date": "$_id.date",
                    "messages": 1,
                    "room": {"_id": "$room._id", "name": "$room.name", "t": "$room.t"},
                }
            },
            {"$out": "rocketchat_analytics"},
        ],
        allowDiskUse=True,
    )
    # Rocket.Chat's own index for these queries.
    db.rocketchat_analytics.create_index([("type", 1), ("date", 1)])


SESSION_USERS = 3_000  # users who log in (a long tail: a few every day, most now and then; 0.5% bots)
LOGINS_A_DAY = 600  # on an average day; weekdays busier than weekends


def sessions_present(db) -> bool:
    meta = db.engagement_bench_meta.find_one({"_id": "sessions"})
    return bool(meta and meta.get("version") == 1 and meta.get("complete"))


def add_sessions(db, anchor: datetime, days: int, progress=print, seed: int = 23) -> int:
    """Add to a message dataset its logins and their users, once: `SESSION_USERS` users (two thirds created before
    the first day, the others one by one over the days, so that new users counts something) logging in about
    `LOGINS_A_DAY` times a day over the dataset's days, written as Rocket.Chat writes them into
    `rocketchat_sessions` (demo/sessions.py: the 01:05 copies, `computed-session`, `user_daily`; no TTL, so every
    day keeps its sessions). Deterministic for a dataset's anchor and days; what a stopped run left is replaced.
    Returns the number of session documents."""
    import contextlib
    from zoneinfo import ZoneInfo

    from pymongo.errors import BulkWriteError

    from bench.users import logins_of_day
    from engagement_svc.demo.sessions import create_session_indexes, session_documents

    rng = random.Random(seed)
    started = time.monotonic()
    db.rocketchat_sessions.drop()
    db.users.delete_many({"_id": {"$regex": "^BenchLogin"}})
    first = (anchor - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    ids = [f"BenchLogin{i:06d}" for i in range(SESSION_USERS)]
    bots = set(ids[::200])
    created = {
        u: first - timedelta(days=30) if i < SESSION_USERS * 2 // 3 else first + (anchor - first) * rng.random()
        for i, u in enumerate(ids)
    }
    db.users.insert_many(
        [
            user_doc(u, f"login{i}", ["user"], [], createdAt=created[u], **({"type": "bot"} if u in bots else {}))
            for i, u in enumerate(ids)
        ]
    )
    create_session_indexes(db, ttl=False)
    cumulative = _cumulative([1.0 / (i + 50) for i in range(SESSION_USERS)])
    rhythm = [DAY_WEIGHTS[(first + timedelta(days=i)).weekday()] for i in range(days + 1)]
    per_day = [round(LOGINS_A_DAY * (days + 1) * w / sum(rhythm)) for w in rhythm]
    for offset, count in enumerate(per_day):
        day_start = first + timedelta(days=offset)
        logins = [
            login
            for login in logins_of_day(rng, day_start, anchor, count, ids, cumulative, bots)
            if login.start >= created[login.user_id]
        ]
        batch = session_documents(logins, anchor, ZoneInfo("UTC"), rng, ttl=False, id_prefix=f"b{offset}-")
        # a user_daily of a day also summed from the day before's copies is a duplicate: Rocket.Chat's is one
        with contextlib.suppress(BulkWriteError):
            if batch:
                db.rocketchat_sessions.insert_many(batch, ordered=False)
        if offset % 100 == 99:
            progress(f"  sessions of {offset + 1} days written ({time.monotonic() - started:.0f} s)")
    written = db.rocketchat_sessions.count_documents({})
    db.engagement_bench_meta.replace_one(
        {"_id": "sessions"},
        {"_id": "sessions", "version": 1, "complete": True, "documents": written, "users": SESSION_USERS},
        upsert=True,
    )
    return written

"""The big-server dataset: 20,000,000 messages, 100,000 users, 50,000 rooms and 5,000,000 logins over two years.

Shaped like a large Rocket.Chat server that grew: messages per day rise threefold over the period, with the weekly
and daily rhythm; room sizes have a long tail (a few rooms carry most messages, most rooms are quiet); 0.5% of
the users are bots, and integrations post too; about 5% system messages, 4% thread replies, 3% edited messages
(with their hidden edit-history copies), 2% file uploads. Sessions are written as Rocket.Chat writes them
(demo/sessions.py: the 01:05 copies, `computed-session`, `user_daily`), without the TTL. Users sign up over
the two years.

Streamed and resumable: day by day (two worker processes, each day from its own random generator), in batches of
10,000; the meta document records the last day complete in order, so an interrupted run continues where it
stopped (what it wrote of later days is deleted first) and makes the same data. Rocket.Chat's indexes are built
once the documents are in (the same indexes, built in one pass instead of one insert at a time).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bson import ObjectId
from pymongo.errors import BulkWriteError

from bench.dataset import BENCH_TOKEN, BENCH_USER_ID, DAY_WEIGHTS, build_analytics
from bench.users import logins_of_day
from engagement_svc.demo.dataset import (
    HOUR_WEIGHTS,
    SYSTEM_TYPES,
    WORDS,
    base_documents,
    create_indexes,
    login_token,
    room_doc,
    user_doc,
)
from engagement_svc.demo.sessions import session_documents

META = "big-dataset"
WORKERS = 2  # days made at once (the Python side is the bottleneck: about 20,000 documents a second each)
BATCH = 10_000
SERVER_ZONE = ZoneInfo("UTC")
ROOM_KINDS = ["c"] * 30 + ["p"] * 20 + ["d"] * 45 + ["l"] * 4 + ["v"]  # per 100 rooms


def describe(messages: int, users: int, rooms: int, logins: int, days: int) -> dict:
    return {
        "_id": META,
        "messages": messages,
        "users": users,
        "rooms": rooms,
        "logins": logins,
        "days": days,
        "version": 1,
    }


def existing_anchor(db, messages: int, users: int, rooms: int, logins: int, days: int) -> datetime | None:
    meta = db.engagement_bench_meta.find_one({"_id": META})
    wanted = describe(messages, users, rooms, logins, days)
    if meta and all(meta.get(k) == v for k, v in wanted.items()) and meta.get("complete"):
        return meta["anchor"]
    return None


def _cumulative(weights) -> list[float]:
    out, running = [], 0.0
    for w in weights:
        running += w
        out.append(running)
    return out


def _user_ids(users: int) -> list[str]:
    return [f"BigUser{i:09d}" for i in range(users)]


def generate(db, url: str, messages: int, users: int, rooms: int, logins: int, days: int, progress, seed: int = 2026):
    """Fill `db` (at `url`; or continue filling it); returns the anchor, the instant the data ends (a whole hour)."""
    wanted = describe(messages, users, rooms, logins, days)
    meta = db.engagement_bench_meta.find_one({"_id": META})
    if meta is None or any(meta.get(k) != v for k, v in wanted.items()):
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for name in db.list_collection_names():
            db.drop_collection(name)
        _static(db, users, rooms, days, now, seed)
        meta = wanted | {"anchor": now, "done_days": -1, "seconds": 0.0, "complete": False}
        db.engagement_bench_meta.replace_one({"_id": META}, meta, upsert=True)
    anchor: datetime = meta["anchor"]
    if meta.get("complete"):
        return anchor
    first = (anchor - timedelta(days=days)).replace(hour=0)
    start_day = meta["done_days"] + 1
    resume_at = first + timedelta(days=start_day)
    # What an interrupted run wrote of its unfinished day goes; the day is made again, identically.
    db.rocketchat_message.delete_many({"ts": {"$gte": resume_at}})
    db.rocketchat_sessions.delete_many({"loginAt": {"$gte": resume_at}})
    if start_day:
        progress(f"  resuming at day {start_day} of {days + 1} ({resume_at.date()})")
    plan = _Plan(seed, messages, users, logins, days, first, anchor)
    began, seconds = time.monotonic(), meta["seconds"]
    offsets = range(start_day, days + 1)
    context = multiprocessing.get_context("spawn")  # each worker makes its own client
    with context.Pool(WORKERS, _start_worker, (url, db.name, plan)) as pool:
        for offset, written in zip(offsets, pool.imap(_make_day, offsets), strict=True):
            elapsed = seconds + time.monotonic() - began
            db.engagement_bench_meta.update_one({"_id": META}, {"$set": {"done_days": offset, "seconds": elapsed}})
            if offset % 30 == 0 or offset == days:
                progress(
                    f"  {(first + timedelta(days=offset)).date()}: day {offset} of {days}, "
                    f"{written:,} documents that day ({elapsed:.0f} s)"
                )
    progress("  building Rocket.Chat's indexes")
    create_indexes(db)
    db.users.create_index([("createdAt", 1)])
    progress("  building Rocket.Chat's analytics counters (the peer's data)")
    build_analytics(db)
    elapsed = seconds + time.monotonic() - began
    db.engagement_bench_meta.update_one({"_id": META}, {"$set": {"complete": True, "seconds": elapsed}})
    return anchor


@dataclass(frozen=True)
class _Plan:
    seed: int
    messages: int
    users: int
    logins: int
    days: int
    first: datetime
    anchor: datetime


_WORKER: dict = {}


def _start_worker(url: str, database: str, plan: _Plan) -> None:
    """Once per worker process: its client, and what every day draws from."""
    from pymongo import MongoClient

    days, first = plan.days, plan.first
    ids = _user_ids(plan.users)
    rooms: Any = MongoClient(url).get_database(database).rocketchat_room
    rids: list[str] = [room["_id"] for room in rooms.find({}, {"_id": 1}).sort("_id", 1)]
    random.Random(plan.seed).shuffle(rids)  # the busy rooms are of every type
    growth = [0.5 + 1.0 * i / max(days, 1) for i in range(days + 1)]  # a server that grew threefold
    shape = [growth[i] * DAY_WEIGHTS[(first + timedelta(days=i)).weekday()] for i in range(days + 1)]
    per_day = [int(plan.messages * w / sum(shape)) for w in shape]
    per_day[-1] += plan.messages - sum(per_day)
    logins_per_day = [int(plan.logins * w / sum(shape)) for w in shape]
    logins_per_day[-1] += plan.logins - sum(logins_per_day)
    _WORKER.update(
        db=MongoClient(url, tz_aware=True).get_database(database),
        plan=plan,
        ids=ids,
        bots=set(ids[::200]),
        authors=[{"_id": u, "username": f"user{i}", "name": f"User {i}"} for i, u in enumerate(ids)],
        author_weights=_cumulative(1.0 / (i + 20) for i in range(plan.users)),  # a few very active, a long tail
        login_weights=_cumulative(1.0 / (i + 50) for i in range(plan.users)),
        rids=rids,
        room_weights=_cumulative(1.0 / (i + 1) ** 1.1 for i in range(len(rids))),
        per_day=per_day,
        logins_per_day=logins_per_day,
    )


def _make_day(offset: int) -> int:
    """One day's messages and sessions, from the day's own random generator; returns the documents written."""
    w, plan = _WORKER, _WORKER["plan"]
    rng = random.Random(plan.seed * 1_000_003 + offset)
    day_start = plan.first + timedelta(days=offset)
    count = w["per_day"][offset]
    written = _messages_of_day(
        w["db"], rng, day_start, plan.anchor, count, w["authors"], w["author_weights"], w["rids"], w["room_weights"]
    )
    written += _sessions_of_day(
        w["db"],
        rng,
        day_start,
        plan.anchor,
        w["logins_per_day"][offset],
        w["ids"],
        w["login_weights"],
        w["bots"],
        offset,
    )
    return written


def _static(db, users: int, rooms: int, days: int, anchor: datetime, seed: int) -> None:
    """Users (signing up over the period; bots among them), rooms, permissions and Rocket.Chat's indexes."""
    rng = random.Random(seed)
    first = anchor - timedelta(days=days)
    docs = [user_doc(BENCH_USER_ID, "bench.admin", ["user", "admin"], [login_token(BENCH_TOKEN, anchor)])]
    for i, uid in enumerate(_user_ids(users)):
        extra: dict = {"createdAt": first + timedelta(seconds=rng.uniform(0, days * 86_400))}
        if i % 200 == 0:
            extra |= {"type": "bot", "roles": ["bot"]}
        docs.append(user_doc(uid, f"user{i}", ["user"], []) | extra)
    base_documents(db, [])
    for i in range(0, len(docs), BATCH):
        db.users.insert_many(docs[i : i + BATCH])
    room_docs = []
    for i in range(rooms):
        kind = ROOM_KINDS[i % len(ROOM_KINDS)]
        name = None if kind == "d" else f"{kind}-room-{i}"
        extra = {"usernames": [f"user{rng.randrange(users)}", f"user{rng.randrange(users)}"]} if kind == "d" else {}
        room_docs.append(room_doc(f"BigRoom{i:09d}", kind, name, **extra))
    for i in range(0, len(room_docs), BATCH):
        db.rocketchat_room.insert_many(room_docs[i : i + BATCH])


def _messages_of_day(db, rng, day_start, anchor, count, authors, author_weights, rids, room_weights) -> int:
    hours = rng.choices(range(24), HOUR_WEIGHTS, k=count)
    who = rng.choices(range(len(authors)), cum_weights=author_weights, k=count)
    where = rng.choices(range(len(rids)), cum_weights=room_weights, k=count)
    recent: list[str] = []
    batch: list[dict] = []
    written = 0
    for hour, author_index, room in zip(hours, who, where, strict=True):
        ts = day_start + timedelta(hours=hour, milliseconds=rng.randrange(3_600_000))
        if ts > anchor:
            ts = anchor - timedelta(milliseconds=rng.randrange(3_600_000))
        author = authors[author_index]
        text = " ".join(rng.choices(WORDS, k=rng.randrange(2, 14)))
        doc = {
            "_id": str(ObjectId()),
            "rid": rids[room],
            "msg": text,
            "ts": ts,
            "u": author,
            "_updatedAt": ts,
            "urls": [],
            "mentions": [],
            "channels": [],
            "md": [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": text}]}],
        }
        roll = rng.random()
        if roll < 0.05:
            doc["t"] = SYSTEM_TYPES[int(roll * 140) % len(SYSTEM_TYPES)]
        elif roll < 0.09 and recent:
            doc["tmid"] = recent[rng.randrange(len(recent))]
        elif roll < 0.12:
            edited = ts + timedelta(seconds=rng.randrange(5, 3600))
            doc |= {"editedAt": edited, "editedBy": {"_id": author["_id"], "username": author["username"]}}
            doc["_updatedAt"] = edited
            copy = {**doc, "_id": str(ObjectId()), "_hidden": True, "parent": doc["_id"], "_updatedAt": edited}
            copy.pop("editedAt"), copy.pop("editedBy")
            batch.append(copy)
        elif roll < 0.14:
            doc["file"] = {"_id": str(ObjectId()), "name": "report.pdf", "type": "application/pdf"}
            doc["attachments"] = [{"title": "report.pdf", "type": "file"}]
        elif roll < 0.145:
            doc["bot"] = {"i": "integration-ci"}
        if "t" not in doc:
            recent.append(doc["_id"])
            if len(recent) > 400:
                del recent[:200]
        batch.append(doc)
        if len(batch) >= BATCH:
            db.rocketchat_message.insert_many(batch, ordered=False)
            written, batch = written + len(batch), []
    if batch:
        db.rocketchat_message.insert_many(batch, ordered=False)
    return written + len(batch)


def _sessions_of_day(db, rng, day_start, anchor, count, ids, login_weights, bots, offset) -> int:
    logins = logins_of_day(rng, day_start, anchor, count, ids, login_weights, bots)
    docs = session_documents(logins, anchor, SERVER_ZONE, rng, ttl=False, id_prefix=f"d{offset:04d}s")
    for i in range(0, len(docs), BATCH):
        # A user_daily of a day also summed from the day before's copies is a duplicate: Rocket.Chat keeps one.
        with contextlib.suppress(BulkWriteError):
            db.rocketchat_sessions.insert_many(docs[i : i + BATCH], ordered=False)
    return len(docs)

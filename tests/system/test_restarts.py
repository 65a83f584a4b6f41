"""Restarts that miss nothing: what changes on closed days while no instance watches is counted when one starts
again, from the change streams' saved positions; when the oplog no longer reaches back to a saved position, every
kept day is counted again. Every number equals a brute-force recount of the documents as they are."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bson import Binary
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from engagement_svc.app import create_app
from engagement_svc.counting.store import STREAMS_COLLECTION
from engagement_svc.demo.embedded import EmbeddedMongo
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, ADMIN_ID, ADMIN_TOKEN, AUTHOR, fill
from tests.support.http import (
    ACTIVE_USERS_PATH,
    BY_HOUR_PATH,
    ORIGIN_PATH,
    TOP_FIVE_PATH,
    expected_for,
    get_messages_sent,
    until,
)
from tests.support.oracle import expected_active_users, expected_by_hour, expected_origin, expected_top_five
from tests.support.rocketchat import (
    Login,
    base_documents,
    create_indexes,
    login_token,
    message_doc,
    session_documents,
    user_doc,
    workday_logins,
)

SERVER = ZoneInfo("Europe/Berlin")
FIRST, DAYS = datetime(2024, 3, 1, tzinfo=UTC), 20
CASES = [
    ("2024-03-01T00:00:00.000Z", "2024-03-20T23:59:59.999Z", "UTC"),
    ("2024-03-02T00:00:00.000Z", "2024-03-15T12:00:00.000Z", "America/Havana"),  # its 23-hour day (10 March)
]
PEOPLE = [(f"Member{i:011d}", "user") for i in range(12)]


def parse(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def seed(db) -> None:
    """Twenty closed days of messages in c, p, d and livechat rooms, and of sessions of twelve people."""
    fill(db, FIRST, DAYS, 80)
    db.users.insert_many([user_doc(uid, f"member{i}", ["user"], []) for i, (uid, _) in enumerate(PEOPLE)])
    rng = random.Random(5)
    logins = workday_logins(rng, PEOPLE, date(2024, 3, 1), date(2024, 3, 20), datetime.now(UTC), SERVER)
    db.rocketchat_sessions.insert_many(session_documents(logins, datetime.now(UTC), SERVER))


async def get(client, path: str, params: dict):
    response = await client.get(path, params=params, headers=ADMIN_HEADERS)
    return response.status, await response.json()


async def all_exact(client, db) -> None:
    """messages-sent, origin, top five, active users and users by hour equal a recount, in every case."""
    for start, end, zone in CASES:
        params = {"start": start, "end": end, "timezone": zone}
        s, e = parse(start), parse(end)
        assert await get_messages_sent(client, params) == (200, expected_for(db, params))
        assert await get(client, ORIGIN_PATH, params) == (200, expected_origin(db, s, e, zone))
        assert await get(client, TOP_FIVE_PATH, params) == (200, expected_top_five(db, s, e, zone))
        assert await get(client, ACTIVE_USERS_PATH, params) == (200, expected_active_users(db, s, e, zone))
        assert await get(client, BY_HOUR_PATH, params) == (200, expected_by_hour(db, s, e, zone))


async def positions_saved(client, db, state_db) -> None:
    """Every followed stream has saved a position taken after the service counted (and owes nothing)."""
    engine = client.server.app[ENGINE]
    assert await until(lambda: all(w.healthy for w in engine.watchers.values()), seconds=20)
    db.rocketchat_room.update_one({"_id": "L1"}, {"$set": {"_updatedAt": datetime.now(UTC)}})  # time goes on
    since = datetime.now(UTC)

    def saved() -> bool:
        docs = list(state_db[STREAMS_COLLECTION].find({}))
        return len(docs) == len(engine.watchers) and all(d["saved_at"] > since and not d["pending"] for d in docs)

    assert await until(saved, seconds=20)


def change_while_stopped(db) -> set[date]:
    """On closed days: messages turned into system messages, hidden, moved to another room, edited, deleted and
    added; a session added, one made longer, one deleted (sessions keep their history: the answers stay as before
    for it). Returns the UTC days changed."""
    days: set[date] = set()
    in_c1 = list(db.rocketchat_message.find({"rid": "C1", "t": {"$exists": False}, "_hidden": {"$ne": True}}))
    chosen = random.Random(9).sample(in_c1, 30)
    groups = [chosen[i : i + 5] for i in range(0, 30, 5)]
    now = datetime.now(UTC)
    for group, change in zip(
        groups[:4],
        [{"t": "rm"}, {"_hidden": True}, {"rid": "P1"}, {"rid": "D1", "msg": "moved and edited", "editedAt": now}],
        strict=True,
    ):
        db.rocketchat_message.update_many(
            {"_id": {"$in": [m["_id"] for m in group]}}, {"$set": {**change, "_updatedAt": now}}
        )
    db.rocketchat_message.delete_many({"_id": {"$in": [m["_id"] for m in groups[4]]}})
    for m in chosen[:25]:
        days.add(m["ts"].date())
    added = [
        message_doc(f"late{i:03d}", ("C1", "D1")[i % 2], FIRST + timedelta(days=3 + i % 9, hours=i % 24), AUTHOR)
        for i in range(12)
    ]
    db.rocketchat_message.insert_many(added)
    days |= {m["ts"].date() for m in added}
    late = Login("Member00000000011", "user", datetime(2024, 3, 7, 22, tzinfo=UTC), datetime(2024, 3, 8, 3, tzinfo=UTC))
    docs = session_documents([late], now, SERVER, prefix="x")
    db.rocketchat_sessions.insert_many([d for d in docs if d["type"] != "user_daily"])  # its user_daily exists
    days |= {date(2024, 3, 7), date(2024, 3, 8)}
    closed = db.rocketchat_sessions.find_one(
        {"userId": PEOPLE[2][0], "type": "computed-session", "closedAt": {"$gte": datetime(2024, 3, 12, tzinfo=UTC)}}
    )
    longer = closed["closedAt"] + timedelta(hours=3)
    db.rocketchat_sessions.update_one(
        {"_id": closed["_id"]}, {"$set": {"closedAt": longer, "lastActivityAt": longer, "_updatedAt": now}}
    )
    days |= {closed["loginAt"].date(), longer.date()}
    return days


def forgotten_session(db) -> None:
    """A session deleted (as Rocket.Chat's TTL does): what was counted of it stays."""
    doc = db.rocketchat_sessions.find_one({"userId": PEOPLE[3][0], "type": "computed-session"})
    db.rocketchat_sessions.delete_one({"_id": doc["_id"]})


async def test_changes_while_stopped_are_counted_after_a_restart(aiohttp_client, settings, users, db):
    seed(db)
    state_db = db.client[settings.state_database]
    first = await aiohttp_client(create_app(settings))
    await all_exact(first, db)
    await positions_saved(first, db, state_db)
    await first.close()
    changed = change_while_stopped(db)
    second = await aiohttp_client(create_app(settings))
    await all_exact(second, db)  # the answers with the session below still there, to compare after its deletion
    expected = {
        (path, start): await get(second, path, {"start": start, "end": end, "timezone": zone})
        for path in (ACTIVE_USERS_PATH, BY_HOUR_PATH)
        for start, end, zone in CASES
    }
    engine = second.server.app[ENGINE]
    # Resumed, not recounted wholesale: the changed days (per metric) are counted again; the rest read back.
    assert engine.stats["history_lost"] == 0
    assert 0 < engine.stats["recounts"] <= 3 * len(changed) + 8, (engine.stats, len(changed))
    assert engine.stats["state_hits"] > 0
    forgotten_session(db)
    await positions_saved(second, db, state_db)
    await second.close()
    third = await aiohttp_client(create_app(settings))
    for (path, start), answer in expected.items():
        end, zone = next((e, z) for s, e, z in CASES if s == start)
        assert await get(third, path, {"start": start, "end": end, "timezone": zone}) == answer


CAPPED_POSITION_LOST = 136


@pytest.fixture
def small_oplog():
    """A mongod of the test's own with MongoDB's smallest oplog (990 MB), so that a test can outrun it."""
    with EmbeddedMongo(cache_gb=0.25, oplog_mb=990) as mongo:
        yield mongo


def roll_oplog(client: MongoClient, older_than: datetime, seconds: float = 120) -> None:
    """Write (and drop) enough to push every oplog entry older than `older_than` out of the oplog. MongoDB cuts
    the oplog in a background thread, a whole block of entries at a time, so the oldest entry can lag behind what
    was written (seen on a loaded machine: 6 GB written, the oldest entry still 0.5 s too old): write until it
    has moved past, within `seconds`."""
    scratch = client.scratch.blobs
    blob = Binary(random.randbytes(15 * 1024 * 1024))
    oplog = client.local["oplog.rs"]
    deadline = time.monotonic() + seconds

    def oldest() -> datetime:
        while True:
            try:
                return oplog.find_one({}, sort=[("$natural", 1)])["wall"].replace(tzinfo=UTC)
            except OperationFailure as error:
                # The cutting thread removed the block the scan stood on (CappedPositionLost): the first entry
                # left is read again from the start.
                if error.code != CAPPED_POSITION_LOST:
                    raise

    i = 0
    while oldest() <= older_than and time.monotonic() < deadline:
        for _ in range(10):
            scratch.insert_one({"_id": i, "blob": blob})
            i += 1
        scratch.delete_many({})
        time.sleep(0.1 if i > 400 else 0)  # not a wait for an event: past 6 GB, mongod's cutting thread gets a turn
    client.drop_database("scratch")
    assert oldest() > older_than, f"{i} blobs of 15 MB written in {seconds} s, the oplog not cut past the position"


async def test_a_position_older_than_the_oplog_recounts_every_kept_day(aiohttp_client, small_oplog):
    client = MongoClient(small_oplog.url, tz_aware=True)
    db = client.rocketchat
    create_indexes(db)
    admin = user_doc(ADMIN_ID, "admin", ["user", "admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC))])
    base_documents(db, [admin])
    seed(db)
    settings = Settings(
        mongo_url=small_oplog.url_for("rocketchat"),
        database="rocketchat",
        state_database="rocketchat_state",
        warm_days=0,
        query_timeout_ms=20_000,
    )
    first = await aiohttp_client(create_app(settings))
    await all_exact(first, db)
    await positions_saved(first, db, client.rocketchat_state)
    await first.close()
    saved_at = max(d["saved_at"] for d in client.rocketchat_state[STREAMS_COLLECTION].find({}))
    change_while_stopped(db)
    roll_oplog(client, saved_at.replace(tzinfo=UTC))
    second = await aiohttp_client(create_app(replace(settings)))
    engine = second.server.app[ENGINE]
    assert await until(lambda: engine.stats["history_lost"] == 3, seconds=20)
    await all_exact(second, db)
    # Meanwhile (within a second) every kept day of messages and sessions is queued to be counted again.
    assert await until(lambda: engine.stats["history_recounts"] >= 2 * DAYS, seconds=20)
    await all_exact(second, db)
    response = await second.get("/metrics")
    assert "engagement_svc_days_history_lost_total 3.0" in await response.text()
    client.close()

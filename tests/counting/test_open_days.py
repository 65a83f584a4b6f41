"""Open days (today, and yesterday during the grace): followed by the change stream from a snapshot, counted
directly without it, and equal to a recount either way."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from engagement_svc.app import create_app
from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.resources import ENGINE
from tests.support.data import AUTHOR, fill
from tests.support.http import answers_brute_force, recent_params, until
from tests.support.oracle import js
from tests.support.rocketchat import message_doc

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


async def test_state_and_live_paths_agree_across_zones(aiohttp_client, settings, users, db):
    now = datetime.now(UTC)
    fill(db, now - timedelta(days=40), 40, 50)
    fill(db, now - timedelta(hours=3), 1, 300, seed=9, prefix="today")  # today's messages, some in the future
    client = await aiohttp_client(create_app(settings))
    rng = random.Random(5)
    for _ in range(24):
        zone = rng.choice(ZONES)
        end = now - timedelta(days=rng.uniform(-0.5, 20))
        start = end - timedelta(days=rng.uniform(0, 14))
        params = {"start": js(start), "end": js(end), "timezone": zone}
        assert await answers_brute_force(client, db, params), params
    stats = client.server.app[ENGINE].stats
    assert stats["recounts"] > 0 and stats["closed_hits"] > 0 and stats["open_tracked"] + stats["open_live"] > 0


async def test_new_messages_today_are_counted_promptly(client, db):
    now = datetime.now(UTC)
    fill(db, now - timedelta(days=10), 10, 30)
    params = recent_params()
    assert await answers_brute_force(client, db, params)
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    for i in range(5):
        db.rocketchat_message.insert_one(message_doc(f"new{i}", "C1", datetime.now(UTC), AUTHOR))
        db.rocketchat_message.insert_one(message_doc(f"sys{i}", "C1", datetime.now(UTC), AUTHOR, t="uj"))
        db.rocketchat_message.insert_one(message_doc(f"lc{i}", "L1", datetime.now(UTC), AUTHOR))
        assert await until(lambda: answers_brute_force(client, db, params))
    assert engine.stats["open_tracked"] > 0  # served from the watcher's counts, not recounted per request


async def test_the_keys_counted_since_a_stamp_are_told_while_nothing_else_changed(client, db):
    """A report keeping what it derived from today asks which keys were counted since its stamp: the rooms of
    messages that count, not a system message's nor a stamp of other counts."""
    now = datetime.now(UTC)
    fill(db, now - timedelta(days=3), 3, 20)
    engine = client.server.app[ENGINE]
    assert await answers_brute_force(client, db, recent_params())
    assert await until(lambda: engine.watcher.healthy)
    assert await answers_brute_force(client, db, recent_params())  # today read from the stream's counts now
    before = engine.stamp(MESSAGES)
    assert before is not None and engine.changed_keys(MESSAGES, before) == set()
    db.rocketchat_message.insert_one(message_doc("sys", "C2", datetime.now(UTC), AUTHOR, t="uj"))  # not counted
    db.rocketchat_message.insert_one(message_doc("new", "C1", datetime.now(UTC), AUTHOR))
    assert await until(lambda: engine.stamp(MESSAGES) != before)
    assert engine.changed_keys(MESSAGES, before) == {"C1"}
    assert engine.changed_keys(MESSAGES, engine.stamp(MESSAGES)) == set()
    other = (*before[:-2], "another snapshot", before[-1])
    assert engine.changed_keys(MESSAGES, other) is None and engine.changed_keys(MESSAGES, None) is None


async def test_after_midnight_a_day_the_stream_does_not_follow_yet_leaves_no_stamp(client, db):
    """Past a UTC midnight the open days include one the tracker does not hold: a message of it moves no version,
    so no answer may be kept by the old stamp until the new day is followed."""
    now = datetime.now(UTC)
    fill(db, now - timedelta(days=3), 3, 20)
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    assert await answers_brute_force(client, db, recent_params())
    assert engine.stamp(MESSAGES) is not None
    clock = engine.clock
    wall = clock.now
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    clock.now = lambda: midnight + timedelta(minutes=1)  # the next UTC day, in the grace: both days open
    try:
        assert engine.stamp(MESSAGES) is None
        assert await engine.follow(MESSAGES) is not None  # the new day followed: a stamp again
    finally:
        clock.now = wall


async def test_a_day_read_while_still_empty_counts_its_first_messages_once(client, db):
    """Just after a UTC midnight today has no message yet; a request reads it, then messages come."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    fill(db, midnight - timedelta(days=5), 4, 30)  # nothing today
    params = recent_params(days=2)
    assert await answers_brute_force(client, db, params)
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    db.rocketchat_message.insert_many([message_doc(f"first{i}", "C1", datetime.now(UTC), AUTHOR) for i in range(3)])
    assert await until(lambda: answers_brute_force(client, db, params))
    # And stays so (3, not 6): a livechat message (never counted) written after them comes through the change stream
    # after them; once it has, every event about the three has been applied.
    db.rocketchat_message.insert_one(message_doc("marker", "L1", datetime.now(UTC), AUTHOR))
    assert await until(lambda: any(doc["_id"] == "marker" for _, doc, _ in engine.watcher.recent))
    assert await answers_brute_force(client, db, params)


async def test_open_day_deletion_and_hiding_are_corrected(client, db):
    now = datetime.now(UTC)
    docs = fill(db, now - timedelta(hours=2), 1, 200)
    docs = [d for d in docs if d["ts"] <= now and "t" not in d and not d.get("_hidden") and d["rid"] != "L1"]
    params = recent_params(days=2)
    assert await answers_brute_force(client, db, params)
    db.rocketchat_message.delete_one({"_id": docs[0]["_id"]})
    assert await until(lambda: answers_brute_force(client, db, params))
    db.rocketchat_message.update_one({"_id": docs[1]["_id"]}, {"$set": {"_hidden": True}})
    assert await until(lambda: answers_brute_force(client, db, params))
    db.rocketchat_message.update_one({"_id": docs[2]["_id"]}, {"$set": {"t": "rm", "msg": ""}})
    assert await until(lambda: answers_brute_force(client, db, params))


async def test_without_the_change_stream_open_days_are_counted_directly(make_client, users, db):
    """Open days: counted directly, reused at most freshness_ms. Closed days: deletions found by the sweep."""
    client = await make_client(freshness_ms=500, sweep_seconds=1)
    engine = client.server.app[ENGINE]
    engine.watcher.stopping = True  # as when change streams are not allowed: the watcher ends
    assert await until(lambda: not engine.watcher.healthy)
    now = datetime.now(UTC)
    docs = fill(db, now - timedelta(days=5), 5, 40)
    params = recent_params(days=3, zone="Asia/Kolkata")
    assert await answers_brute_force(client, db, params)
    db.rocketchat_message.insert_one(message_doc("late", "D1", datetime.now(UTC), AUTHOR))
    today = [d for d in docs if now - d["ts"] < timedelta(hours=1) and "t" not in d and d["rid"] != "L1"]
    db.rocketchat_message.delete_one({"_id": today[0]["_id"]})
    assert await until(lambda: answers_brute_force(client, db, params))
    old = [d for d in docs if timedelta(days=3) < now - d["ts"] < timedelta(days=4) and "t" not in d]
    db.rocketchat_message.delete_one({"_id": old[0]["_id"]})
    assert await until(lambda: answers_brute_force(client, db, params))
    assert engine.stats["open_live"] >= 2 and engine.stats["open_tracked"] == 0

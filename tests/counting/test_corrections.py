"""Corrections: a change to a closed day (an insert, a hide, a deletion seen by the sweep) is counted again, within the
sweep's budget, and what was kept only in the state database is never read back unchanged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.app import create_app
from engagement_svc.resources import ENGINE
from tests.support.data import AUTHOR, fill
from tests.support.http import answers_brute_force, until
from tests.support.oracle import js
from tests.support.rocketchat import message_doc


async def test_closed_day_changes_are_corrected(make_client, users, db):
    client = await make_client(sweep_seconds=1)
    fill(db, datetime(2024, 3, 1, tzinfo=UTC), 30, 40)
    params = {"start": "2024-03-05T00:00:00Z", "end": "2024-03-25T00:00:00Z", "timezone": "America/New_York"}
    assert await answers_brute_force(client, db, params)
    engine = client.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    sent = [
        d
        for d in db.rocketchat_message.find(
            {
                "ts": {"$gte": datetime(2024, 3, 10, tzinfo=UTC)},
                "t": {"$exists": False},
                "_hidden": {"$ne": True},
                "rid": {"$ne": "L1"},
            }
        ).limit(5)
    ]
    # A message imported into a closed day, an edit's hidden copy, a hidden original, a deleted status,
    # and plain deletions: each is corrected without any request asking for it.
    db.rocketchat_message.insert_one(message_doc("imported", "P1", datetime(2024, 3, 12, 15, tzinfo=UTC), AUTHOR))
    assert await until(lambda: answers_brute_force(client, db, params))
    db.rocketchat_message.insert_one(
        message_doc("copy", "P1", sent[0]["ts"], AUTHOR, _hidden=True, parent=sent[0]["_id"])
    )
    db.rocketchat_message.update_one({"_id": sent[1]["_id"]}, {"$set": {"_hidden": True}})
    assert await until(lambda: answers_brute_force(client, db, params))
    db.rocketchat_message.update_one({"_id": sent[2]["_id"]}, {"$set": {"t": "rm"}})
    assert await until(lambda: answers_brute_force(client, db, params))
    db.rocketchat_message.delete_many({"_id": {"$in": [sent[3]["_id"], sent[4]["_id"]]}})
    assert await until(lambda: answers_brute_force(client, db, params))


async def test_sweep_corrects_deletions_made_while_nobody_watched(aiohttp_client, settings, users, db):
    fill(db, datetime(2024, 5, 1, tzinfo=UTC), 20, 40)
    params = {"start": "2024-05-03T00:00:00Z", "end": "2024-05-18T00:00:00Z", "timezone": "Asia/Kolkata"}
    first = await aiohttp_client(create_app(settings))
    assert await answers_brute_force(first, db, params)
    await first.close()
    # While no service runs, messages are deleted from kept days.
    victims = [
        d["_id"] for d in db.rocketchat_message.find({"ts": {"$gte": datetime(2024, 5, 8, tzinfo=UTC)}}).limit(7)
    ]
    db.rocketchat_message.delete_many({"_id": {"$in": victims}})
    # A new process checks every day it reads back from the state against the index, and recounts what changed.
    second = await aiohttp_client(create_app(settings))
    assert await answers_brute_force(second, db, params)
    assert 0 < second.server.app[ENGINE].stats["recounts"] < 31
    # And a sweep of an instance that keeps the days in memory finds deletions too.
    db.rocketchat_message.delete_many(
        {"ts": {"$gte": datetime(2024, 5, 10, tzinfo=UTC), "$lt": datetime(2024, 5, 11, tzinfo=UTC)}}
    )
    engine = second.server.app[ENGINE]
    engine.watcher.stopping = True  # no change stream: only the sweep can see it
    assert await engine.corrections.sweep() >= 1
    assert await answers_brute_force(second, db, params)


async def test_a_hide_on_a_day_kept_only_in_state_is_not_read_back(aiohttp_client, settings, users, db):
    """Instance A counts and keeps the days; instance B, which never loaded them, sees a message hidden on one of
    them: the kept day is dropped, so whoever reads it next counts it again."""
    fill(db, datetime(2024, 8, 1, tzinfo=UTC), 20, 40)
    params = {"start": "2024-08-05T00:00:00Z", "end": "2024-08-15T00:00:00Z", "timezone": "Europe/Berlin"}
    a = await aiohttp_client(create_app(settings))
    assert await answers_brute_force(a, db, params)
    await a.close()
    b = await aiohttp_client(create_app(settings))
    engine = b.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    victim = db.rocketchat_message.find_one(
        {
            "ts": {"$gte": datetime(2024, 8, 10, 12, tzinfo=UTC), "$lt": datetime(2024, 8, 10, 20, tzinfo=UTC)},
            "t": {"$exists": False},
            "_hidden": {"$ne": True},
            "rid": {"$ne": "L1"},
        }
    )
    db.rocketchat_message.update_one({"_id": victim["_id"]}, {"$set": {"_hidden": True}})
    state = b.server.app[ENGINE].source.store.collection
    assert await until(lambda: _missing(state, "2024-08-10"))
    assert await answers_brute_force(b, db, params)


async def _missing(state, day):
    return await state.count_documents({"day": day}) == 0


async def test_a_hide_on_a_recently_closed_day_is_corrected(make_client, users, db):
    """A day closes at its local end plus the grace, whatever UTC date it is: in UTC+14, yesterday is closed
    while its messages are still on UTC's yesterday or today."""
    client = await make_client(close_grace_seconds=0)
    engine = client.server.app[ENGINE]
    zone = ZoneInfo("Pacific/Kiritimati")
    today = datetime.now(UTC).astimezone(zone).date()
    ts = datetime.combine(today, datetime.min.time(), tzinfo=zone).astimezone(UTC) - timedelta(hours=1)
    fill(db, ts - timedelta(hours=5), 1, 20)
    db.rocketchat_message.insert_one(message_doc("victim", "C1", ts, AUTHOR))
    params = {"start": js(ts - timedelta(days=1)), "end": js(datetime.now(UTC)), "timezone": zone.key}
    assert await answers_brute_force(client, db, params)
    assert await until(lambda: engine.watcher.healthy)
    db.rocketchat_message.update_one({"_id": "victim"}, {"$set": {"_hidden": True}})
    assert await until(lambda: answers_brute_force(client, db, params))


async def test_the_sweep_keeps_within_its_budget_of_counts_a_minute(make_client, users, db):
    client = await make_client(sweep_budget=600)  # one count every 0.1 s
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 60, 5)
    assert await answers_brute_force(
        client, db, {"start": "2024-01-31T00:00:00Z", "end": "2024-02-29T00:00:00Z", "timezone": "UTC"}
    )
    engine = client.server.app[ENGINE]
    before = engine.stats["sweep_counts"]
    sweep = asyncio.ensure_future(engine.corrections.sweep(budget=600))
    # The budget is a rate over wall time (the sweep spaces its counts by the clock, which it takes from no one):
    # only a stretch of time can show it kept to it. Kept as a sleep on purpose: the sweep is left a second.
    await asyncio.sleep(1.0)
    sent = engine.stats["sweep_counts"] - before
    sweep.cancel()
    assert 1 <= sent <= 600 / 60 * 1.0 + 1, sent


async def test_the_room_type_map_holds_only_the_rooms_kept_counts_name(client, db):
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 20, 40)
    params = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-20T23:59:59Z", "timezone": "UTC"}
    assert await answers_brute_force(client, db, params)
    engine = client.server.app[ENGINE]
    assert len(engine.rooms) == 4  # C1, P1, D1, L1
    # A room deleted with its messages (as Rocket.Chat deletes a room): its days are recounted, then the map
    # drops it at its next refresh.
    db.rocketchat_message.delete_many({"rid": "P1"})
    db.rocketchat_room.delete_one({"_id": "P1"})
    await engine.corrections.sweep()
    await engine.corrections.refresh()
    assert len(engine.rooms) == 3
    assert await answers_brute_force(client, db, params)

"""Closed days counted once and kept; open days fresh; corrections; shared work; Rocket.Chat left untouched."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.app import create_app
from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.counting.store import COUNTS_COLLECTION
from engagement_svc.resources import ENGINE
from tests.support.data import AUTHOR, fill
from tests.support.http import answers_brute_force, expected_for, get_messages_sent, recent_params, until
from tests.support.oracle import Snapshot, js
from tests.support.rocketchat import message_doc

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
MESSAGES_KEY = f"{MESSAGES.name}.v{MESSAGES.version}"


async def test_closed_days_come_from_state_after_a_restart(aiohttp_client, settings, users, db, sync_client):
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 60, 40)
    params = {"start": "2024-01-20T00:00:00Z", "end": "2024-02-15T12:00:00Z", "timezone": "Europe/Berlin"}
    first = await aiohttp_client(create_app(settings))
    assert await answers_brute_force(first, db, params)
    engine = first.server.app[ENGINE]
    # Berlin's days from 2023-12-24 (27 days before the range) to 2024-02-15 touch the UTC days from the first
    # message (2024-01-01) to 2024-02-15: those are counted and kept, whatever the zone.
    utc_days = (date(2024, 2, 15) - date(2024, 1, 1)).days + 1  # Berlin's 15 February ends at 23:00 UTC
    assert engine.stats["recounts"] == utc_days == 46 and engine.stats["state_hits"] == 0
    state = sync_client[settings.state_database][COUNTS_COLLECTION]
    assert state.count_documents({}) == utc_days
    assert all("zone" not in d for d in state.find())

    # The same request again is answered from memory; no day is counted again.
    assert await answers_brute_force(first, db, params)
    assert engine.stats["recounts"] == utc_days and engine.stats["spans_remembered"] >= 54

    # A new process (empty memory) reads the kept days back, checked against the index, and counts nothing.
    second = await aiohttp_client(create_app(settings))
    assert await answers_brute_force(second, db, params)
    assert second.server.app[ENGINE].stats["state_hits"] == utc_days
    assert second.server.app[ENGINE].stats["recounts"] == 0


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


async def test_sources_and_zones_never_mix(aiohttp_client, settings, users, db, sync_client):
    other = sync_client[db.name + "_other"]
    try:
        from tests.support.data import ADMIN_ID, ADMIN_TOKEN
        from tests.support.rocketchat import base_documents, create_indexes, login_token, user_doc

        create_indexes(other)
        base_documents(other, [user_doc(ADMIN_ID, "admin", ["admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC))])])
        fill(db, datetime(2024, 2, 1, tzinfo=UTC), 20, 30, seed=1)
        fill(other, datetime(2024, 2, 1, tzinfo=UTC), 20, 60, seed=2)
        url_other = settings.mongo_url.replace(f"/{db.name}", f"/{other.name}")
        # Both services share one state database.
        a = await aiohttp_client(create_app(settings))
        b = await aiohttp_client(create_app(replace(settings, mongo_url=url_other, database=other.name)))
        for zone in ("UTC", "Europe/Berlin"):
            params = {"start": "2024-02-05T00:00:00Z", "end": "2024-02-15T00:00:00Z", "timezone": zone}
            assert await answers_brute_force(a, db, params)
            assert await answers_brute_force(b, other, params)
        keys = sync_client[settings.state_database][COUNTS_COLLECTION].distinct("source")
        assert len(keys) == 2
    finally:
        sync_client.drop_database(other.name)


async def test_identical_concurrent_requests_share_one_count(client, db):
    fill(db, datetime(2024, 6, 1, tzinfo=UTC), 30, 30)
    db.command("profile", 2)
    try:
        params = {"start": "2024-06-10T00:00:00Z", "end": "2024-06-20T00:00:00Z", "timezone": "UTC"}
        results = await asyncio.gather(*(get_messages_sent(client, params) for _ in range(12)))
    finally:
        db.command("profile", 0)
    assert all(r == results[0] for r in results) and results[0][1] == expected_for(db, params)
    aggregates = db.system.profile.count_documents({"op": "command", "command.aggregate": "rocketchat_message"})
    # The 11 days asked and the 11 before them hold the UTC days from the first message (June 1) to June 20: each
    # counted once (the days counted, as /metrics tells them), in a few aggregations, however many asked.
    assert client.server.app[ENGINE].stats["recounts"] == 20
    assert 1 <= aggregates <= 20


async def test_rocketchat_database_is_never_written(aiohttp_client, settings, users, db, sync_client):
    fill(db, datetime.now(UTC) - timedelta(days=30), 30, 20)
    before = {name: db[name].find_one(sort=[("_id", -1)]) for name in db.list_collection_names()}
    counts = {name: db[name].count_documents({}) for name in before}
    db.command("profile", 2)
    client = await aiohttp_client(create_app(replace(settings, warm_days=40)))
    for zone in ZONES:
        assert await answers_brute_force(client, db, recent_params(30, zone))
    await client.server.app[ENGINE].corrections.sweep()
    await client.close()
    db.command("profile", 0)
    writes = db.system.profile.count_documents(
        {"op": {"$in": ["insert", "update", "remove"]}, "ns": {"$ne": f"{db.name}.system.profile"}}
    )
    writes += db.system.profile.count_documents({"command.insert": {"$exists": True}})
    writes += db.system.profile.count_documents({"command.update": {"$exists": True}})
    writes += db.system.profile.count_documents({"command.delete": {"$exists": True}})
    assert writes == 0
    assert set(db.list_collection_names()) - {"system.profile"} == set(before)
    assert {name: db[name].count_documents({}) for name in before} == counts
    state_names = sync_client[settings.state_database].list_collection_names()
    assert state_names and all(name.startswith("engagement_svc_") for name in state_names)


async def test_startup_warms_recent_days_without_delaying_readiness(make_client, users, db, sync_client, settings):
    fill(db, datetime.now(UTC) - timedelta(days=20), 20, 50)
    client = await make_client(warm_days=15)
    engine = client.server.app[ENGINE]
    state = sync_client[settings.state_database][COUNTS_COLLECTION]
    assert await until(lambda: state.count_documents({"metric": MESSAGES_KEY}) >= 15)
    assert await until(engine.backfill_done)
    recounted = engine.stats["recounts"]
    params = recent_params(days=7)
    assert await answers_brute_force(client, db, params)
    # The closed days asked were warmed: answered from kept counts (running sums), at most one counted late.
    assert engine.stats["spans_remembered"] + engine.stats["closed_hits"] >= 6 and engine.stats["closed_misses"] <= 1
    assert engine.stats["recounts"] - recounted <= 1  # at most a day that closed meanwhile


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


def rocketchat_message_ops(db) -> list[str]:
    """What the profiler saw read from rocketchat_message (any kind of read but the change stream, which reads
    the oplog), one line each."""
    ops = []
    for op in db.system.profile.find({"ns": f"{db.name}.rocketchat_message"}):
        origin = op.get("originatingCommand") or op.get("command") or {}
        if "$changeStream" not in str(origin.get("pipeline", "")):
            ops.append(f"{op.get('op')} {str(op.get('command'))[:100]}")
    return ops


async def test_a_zone_never_asked_before_answers_from_kept_counts_alone(client, db):
    """Counted once in UTC; then Lord Howe (+10:30/+11), Kathmandu (+5:45) and St John's (-3:30/-2:30) are
    exact against brute force without reading one rocketchat_message document."""
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 120, 40)
    counted = {"start": "2024-03-01T00:00:00Z", "end": "2024-04-15T00:00:00Z", "timezone": "UTC"}
    assert await answers_brute_force(client, db, counted)
    asked = [
        {"start": "2024-03-10T00:00:00Z", "end": "2024-04-10T00:00:00Z", "timezone": zone}
        for zone in ("Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns")
    ]
    expected = [expected_for(db, params) for params in asked]  # the oracle reads everything: before profiling
    db.command("profile", 2)
    try:
        answers = [await get_messages_sent(client, params) for params in asked]
    finally:
        db.command("profile", 0)
    assert answers == [(200, body) for body in expected]
    assert rocketchat_message_ops(db) == []


async def test_kept_state_and_work_do_not_grow_with_the_zones_asked(make_client, users, db, sync_client):
    """The 40-zone flood of the hostile-input probe: 40 zones x the longest range. Kept days, their memory,
    the state database and the sweep's work stay what one zone made them; rocketchat_message is not read again;
    and another caller's small request, sent during the cold flood, is answered before the flood's counting is
    done."""
    from engagement_svc.days import ZONE_NAMES
    from tests.support.rocketchat import login_token, user_doc

    db.users.insert_one(
        user_doc("ViewerUserId00001", "viewer", ["admin"], [login_token("viewer-tok", datetime.now(UTC))])
    )
    client = await make_client(rate_limit_calls=0)
    engine = client.server.app[ENGINE]
    fill(db, datetime.now(UTC) - timedelta(days=800), 800, 12, seed=11)
    now = datetime.now(UTC)
    longest = {"start": js(now - timedelta(days=731)), "end": js(now - timedelta(days=1))}
    zones = sorted(set(ZONE_NAMES.values()))[::8][:40]
    more_zones = sorted(set(ZONE_NAMES.values()))[1::8][:40]  # 40 more, all new
    recount = Snapshot(db)
    expected = {zone: expected_for(recount, longest | {"timezone": zone}) for zone in zones + more_zones}
    small = recent_params(7, "UTC")
    flood = [get_messages_sent(client, longest | {"timezone": z}) for z in zones]
    viewer = {"X-User-Id": "ViewerUserId00001", "X-Auth-Token": "viewer-tok"}

    async def small_request():
        assert await until(lambda: engine.work.queued_units > 0)  # once the flood's counting is queued
        answer = await get_messages_sent(client, small, viewer)
        return answer, engine.work.queued_units

    (small_answer, queued_when_answered), *flood_answers = await asyncio.gather(small_request(), *flood)
    assert small_answer == (200, expected_for(db, small))
    assert queued_when_answered > 0  # it did not wait for the flood
    assert dict(zip(zones, flood_answers, strict=True)) == {zone: (200, expected[zone]) for zone in zones}

    kept, state = engine.kept(), sync_client[client.server.app[ENGINE].source.store.collection.database.name]
    documents = state[COUNTS_COLLECTION].count_documents({})
    # The flood came before the change stream was up: its open days were counted directly; the next request
    # that reads an open day starts tracking them all (one snapshot read).
    assert (await get_messages_sent(client, recent_params(3)))[0] == 200
    db.command("profile", 2)
    try:
        for zone in more_zones:
            assert await get_messages_sent(client, longest | {"timezone": zone}) == (200, expected[zone]), zone
    finally:
        db.command("profile", 0)
    assert rocketchat_message_ops(db) == []
    assert engine.kept() == kept and state[COUNTS_COLLECTION].count_documents({}) == documents
    assert kept[0] <= 802  # one per UTC day of data (800) and the edges, whatever the zones
    sweeps = engine.stats["sweep_counts"]
    await engine.corrections.sweep()
    assert engine.stats["sweep_counts"] - sweeps == kept[0]  # one index count per kept day, not per zone


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


async def test_remembered_answers_are_bounded_in_bytes(client):
    from engagement_svc.counting.remembered import ANSWER_BYTES as DERIVED_CACHE_BYTES

    engine = client.server.app[ENGINE]
    stamp = ("stamp",)
    engine.remember(("huge",), stamp, "x" * (DERIVED_CACHE_BYTES // 4 + 1))  # a year of usersList: not kept
    assert engine.remembered(("huge",), stamp) is None
    part = "y" * (DERIVED_CACHE_BYTES // 5)
    for i in range(8):
        engine.remember(("part", i), stamp, part)
    kept = [i for i in range(8) if engine.remembered(("part", i), stamp) is not None]
    assert kept == [3, 4, 5, 6, 7]  # the newest five that fit, oldest out first
    assert engine.answers.cache.weight == 5 * len(part) <= DERIVED_CACHE_BYTES

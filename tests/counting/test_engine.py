"""The engine as a whole: Rocket.Chat's database never written, a zone never asked answered from kept counts, state
and work that do not grow with the zones asked, remembered answers bounded."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engagement_svc.app import create_app
from engagement_svc.counting.store import COUNTS_COLLECTION
from engagement_svc.resources import ENGINE
from tests.support.data import fill
from tests.support.http import answers_brute_force, expected_for, get_messages_sent, recent_params, until
from tests.support.oracle import Snapshot, js

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


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

"""Closed UTC days: counted once however many ask, kept in the state database and read back by a new process."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime

from engagement_svc.app import create_app
from engagement_svc.counting.catalog import CATALOG
from engagement_svc.counting.store import COUNTS_COLLECTION
from engagement_svc.resources import ENGINE
from tests.support.data import ADMIN_HEADERS, fill
from tests.support.http import POSTING_USERS_PATH, answers_brute_force, expected_for, get_messages_sent, until
from tests.support.oracle_people import expected_posting_users
from tests.support.rocketchat import message_doc


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

    # The same request again is answered from memory (its range reads closed days alone: the answer as it was);
    # no day is counted again.
    hits = engine.answers.cache.stats()["hits"]
    assert await answers_brute_force(first, db, params)
    assert engine.stats["recounts"] == utc_days and engine.answers.cache.stats()["hits"] > hits

    # A new process (empty memory) reads the kept days back, checked against the index, and counts nothing.
    second = await aiohttp_client(create_app(settings))
    assert await answers_brute_force(second, db, params)
    assert second.server.app[ENGINE].stats["state_hits"] == utc_days
    assert second.server.app[ENGINE].stats["recounts"] == 0


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


async def test_detail_days_leave_memory_past_their_bound_and_are_read_back(aiohttp_client, settings, users, db):
    """With no memory for detail days between requests (ENGAGEMENT_DETAIL_DAYS_MB=0), the posts' days a request
    counted leave memory once it has answered, not before (it reads each day once); the messages' days were never
    asked. Another zone's request reads the same days back from the state database; both answers equal the
    recount."""
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 30, 40)
    app = await aiohttp_client(create_app(replace(settings, detail_days_mb=0)))
    engine = app.server.app[ENGINE]
    # Kathmandu's (+5:45) and Kolkata's (+5:30) 29 December to 28 January (the range and the 30 days before it)
    # touch the UTC days from the first message (1 January) to 28 January.
    utc_days = 28
    for zone, counted, read_back in (("Asia/Kathmandu", utc_days, 0), ("Asia/Kolkata", utc_days, utc_days)):
        params = {"start": "2024-01-05T00:00:00.000Z", "end": "2024-01-28T00:00:00.000Z", "timezone": zone}
        response = await app.get(POSTING_USERS_PATH, params=params, headers=ADMIN_HEADERS)
        assert response.status == 200
        assert await response.json() == expected_posting_users(db, parse(params["start"]), parse(params["end"]), zone)
        assert engine.closed.detail_bytes() == 0
        assert (engine.stats["recounts"], engine.stats["state_hits"]) == (counted, read_back)
    assert engine.stats["detail_dropped"] == 2 * utc_days
    assert engine.kept()[0] == 0


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_deletion_on_a_day_no_longer_in_memory_shows_within_seconds(aiohttp_client, settings, users, db):
    """A deletion on a day that left memory (the sweep looks at kept days only) shows in the next answers: the
    day read back is checked against the index and counted again."""
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 30, 40)
    lonely = {"_id": "Lonely00000000001", "username": "lonely"}
    db.rocketchat_message.insert_one(message_doc("lonely-1", "C1", datetime(2024, 1, 12, 9, tzinfo=UTC), lonely))
    app = await aiohttp_client(create_app(replace(settings, detail_days_mb=0)))
    engine = app.server.app[ENGINE]
    assert await until(lambda: engine.watcher.healthy)
    params = {"start": "2024-01-05T00:00:00.000Z", "end": "2024-01-28T00:00:00.000Z", "timezone": "Asia/Kathmandu"}

    async def answered() -> dict:
        response = await app.get(POSTING_USERS_PATH, params=params, headers=ADMIN_HEADERS)
        return await response.json()

    def recount() -> dict:
        return expected_posting_users(db, parse(params["start"]), parse(params["end"]), params["timezone"])

    before = await answered()
    assert before == recount() and engine.closed.detail_bytes() == 0
    db.rocketchat_message.delete_one({"_id": "lonely-1"})
    assert recount() != before
    assert await until(lambda: _equals(answered(), recount()), seconds=10)


async def _equals(value, wanted) -> bool:
    return await value == wanted


async def test_days_kept_for_the_first_time_leave_what_was_remembered(client, db):
    """Counting days nothing read before changes no answer: what was remembered stays (a year's first answer is not
    made again because the next request counted other days), while sums over every kept day take the new days in."""
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 60, 40)
    engine = client.server.app[ENGINE]
    posts = CATALOG["posts"]

    async def posting_users(params: dict[str, str]) -> dict:
        response = await client.get(POSTING_USERS_PATH, params=params, headers=ADMIN_HEADERS)
        assert response.status == 200
        body = await response.json()
        assert body == expected_posting_users(db, parse(params["start"]), parse(params["end"]), params["timezone"])
        return body

    january = {"start": "2024-01-20T00:00:00.000Z", "end": "2024-01-27T00:00:00.000Z", "timezone": "Europe/Berlin"}
    before = await posting_users(january)
    version, filled = engine.closed.version(posts), engine.closed.filled(posts)
    # February and the 30 days before it: the days from 28 January on are kept for the first time.
    await posting_users({**january, "start": "2024-02-10T00:00:00.000Z", "end": "2024-02-20T00:00:00.000Z"})
    assert engine.closed.version(posts) == version and engine.closed.filled(posts) > filled
    hits = engine.answers.cache.stats()["hits"]
    assert await posting_users(january) == before
    assert engine.answers.cache.stats()["hits"] == hits + 1
    # The messages' running sums over every kept day, rebuilt as days are kept: a range over both parts is exact.
    assert await answers_brute_force(client, db, {**january, "end": "2024-02-25T00:00:00.000Z"})

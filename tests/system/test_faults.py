"""Faults under load: mongod killed, and a primary stepping down in a three-member replica set. Only 200s with
exact numbers and 503s in the contract's shape; no 500, no request past the timeout; recovery on its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from engagement_svc.app import create_app
from engagement_svc.demo.embedded import EmbeddedMongo
from engagement_svc.mongo_health import REASONS
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, ADMIN_ID, ADMIN_TOKEN, AUTHOR, fill
from tests.support.http import expected_for, get_messages_sent, until
from tests.support.oracle import js
from tests.support.replicaset import ReplicaSet
from tests.support.rocketchat import base_documents, create_indexes, login_token, message_doc, user_doc

UNAVAILABLE = "The database is unavailable; try again later"


def contract_503(body: dict, timeout_ms: int) -> bool:
    return body in (
        {"success": False, "error": UNAVAILABLE},
        {"success": False, "error": f"The database did not answer within {timeout_ms} ms; try again later"},
        # known down (engagement_svc.mongo_health): said at once, with the reason
        *({"success": False, "error": f"The database is unavailable ({r}); try again later"} for r in REASONS.values()),
    )


def seed(db) -> None:
    create_indexes(db)
    base_documents(
        db, [user_doc(ADMIN_ID, "admin", ["admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC) - timedelta(hours=1))])]
    )
    fill(db, datetime.now(UTC) - timedelta(days=30), 30, 40)


def ranges() -> list[dict]:
    now = datetime.now(UTC)
    return [
        {"start": js(now - timedelta(days=n)), "end": js(now - timedelta(days=e)), "timezone": z}
        for n, e, z in ((6, 0, "UTC"), (20, 3, "Europe/Berlin"), (1, 0, "America/New_York"), (29, 10, "UTC"))
    ]


@dataclass
class Load:
    """Workers that send requests until told to stop, keeping every answer."""

    client: object
    params: list[dict]
    answers: list[tuple[float, int, dict, int, float]] = field(default_factory=list)  # at, status, body, range, s
    stop: bool = False

    async def worker(self, n: int) -> None:
        i = n
        while not self.stop:
            i += 1
            began = time.monotonic()
            status, body = await get_messages_sent(self.client, self.params[i % len(self.params)], ADMIN_HEADERS)
            self.answers.append((began, status, body, i % len(self.params), time.monotonic() - began))

    def start(self, workers: int) -> list[asyncio.Task]:
        return [asyncio.ensure_future(self.worker(n)) for n in range(workers)]


def check_answers(load: Load, expected: list[dict], timeout_ms: int) -> Counter:
    statuses = Counter(status for _, status, _, _, _ in load.answers)
    assert set(statuses) <= {200, 503}, statuses
    for _, status, body, which, elapsed in load.answers:
        if status == 200:
            assert body == expected[which], load.params[which]
        else:
            assert contract_503(body, timeout_ms), body
        assert elapsed < timeout_ms / 1000 + 2, elapsed  # nobody waits past the deadline
    return statuses


async def test_mongod_killed_under_load(aiohttp_client):
    timeout_ms = 1500
    with EmbeddedMongo(cache_gb=0.25) as mongo:
        sync = MongoClient(mongo.url, tz_aware=True)
        seed(sync.rocketchat)
        params = ranges()
        expected = [expected_for(sync.rocketchat, p) for p in params]
        settings = Settings(
            mongo_url=mongo.url_for("rocketchat"),
            database="rocketchat",
            query_timeout_ms=timeout_ms,
            warm_days=0,
            rate_limit_calls=0,
        )
        client = await aiohttp_client(create_app(settings))
        load = Load(client, params)
        tasks = load.start(16)
        try:
            await asyncio.sleep(2)
            mongo.kill()
            killed_at = time.monotonic()
            await asyncio.sleep(4)
            restarting_at = time.monotonic()
            await asyncio.to_thread(mongo.restart)
            restarted_at = time.monotonic()
            recovered = await until(
                lambda: asyncio.sleep(0, any(at > restarted_at + 1 and s == 200 for at, s, *_ in load.answers[-32:])),
                60,
            )
            await asyncio.sleep(1)
        finally:  # the load stops whatever happened, so a failure is reported instead of hanging the teardown
            load.stop = True
            await asyncio.gather(*tasks, return_exceptions=True)
            sync.close()
    statuses = check_answers(load, expected, timeout_ms)
    # Asked and answered while it was down: 503s only, promptly. A request asked just before the restart may wait
    # for the server to come back (server selection lasts up to the deadline) and rightly be answered with a 200.
    down = [s for at, s, _, _, e in load.answers if killed_at + 0.5 < at and at + e < restarting_at]
    assert down and set(down) == {503}, Counter(down)
    assert recovered and statuses[200] > 0
    print(
        f"killed under load: {dict(statuses)}; while down: {len(down)} x 503; slowest answer "
        f"{max(e for *_, e in load.answers) * 1000:.0f} ms (timeout {timeout_ms} ms)"
    )


@pytest.mark.parametrize("read_preference", ["primary", "primaryPreferred"])
async def test_primary_step_down_under_load(aiohttp_client, read_preference):
    timeout_ms = 8000  # an election takes a few seconds; requests may wait that long rather than fail
    with ReplicaSet() as rs:
        sync = MongoClient(rs.url("rocketchat", w="3"), tz_aware=True)  # every member holds all the data
        seed(sync.rocketchat)
        params = ranges()
        expected = [expected_for(sync.rocketchat, p) for p in params]
        settings = Settings(
            mongo_url=rs.url("rocketchat", readPreference=read_preference),
            database="rocketchat",
            query_timeout_ms=timeout_ms,
            warm_days=0,
            rate_limit_calls=0,
        )
        client = await aiohttp_client(create_app(settings))
        engine = client.server.app[ENGINE]
        assert await until(lambda: asyncio.sleep(0, engine.watcher.healthy))
        load = Load(client, params)
        tasks = load.start(16)
        await asyncio.sleep(2)
        old_primary = sync.primary
        with contextlib.suppress(PyMongoError):  # the step-down may close the connection that asked for it
            sync.admin.command("replSetStepDown", 30, secondaryCatchUpPeriodSecs=10)
        assert await until(lambda: asyncio.sleep(0, sync.primary not in (None, old_primary)), 60)
        await asyncio.sleep(3)
        load.stop = True
        await asyncio.gather(*tasks)
        statuses = check_answers(load, expected, timeout_ms)
        assert statuses[200] > 0

        # After the election the change stream follows the new primary: a new message is counted.
        sync.rocketchat.rocketchat_message.insert_one(message_doc("after-election", "C1", datetime.now(UTC), AUTHOR))
        today = ranges()[0]

        async def counted():
            status, body = await get_messages_sent(client, today, ADMIN_HEADERS)
            return status == 200 and body == expected_for(sync.rocketchat, today)

        assert await until(counted, 30)
        await client.close()  # before the set goes away
        sync.close()
    print(f"step-down with {read_preference}: {dict(statuses)}")

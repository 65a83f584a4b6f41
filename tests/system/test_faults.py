"""Faults under load: mongod killed, and a primary stepping down in a three-member replica set. Only 200s with
exact numbers and 503s in the contract's shape; no 500, no request past the timeout; recovery on its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from engagement_svc.app import create_app
from engagement_svc.demo.embedded import EmbeddedMongo
from engagement_svc.mongo_health import REASONS
from engagement_svc.resources import DB_HEALTH, ENGINE
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


class Answer(NamedTuple):
    asked: float  # monotonic instants: to order answers against events, never to measure them
    status: int
    body: dict
    which: int  # the range asked, an index into the load's params
    answered: float


@dataclass
class Load:
    """Workers that send requests until told to stop, keeping every answer."""

    client: object
    params: list[dict]
    answers: list[Answer] = field(default_factory=list)
    stop: bool = False

    async def worker(self, n: int) -> None:
        i = n
        while not self.stop:
            i += 1
            asked = time.monotonic()
            status, body = await get_messages_sent(self.client, self.params[i % len(self.params)], ADMIN_HEADERS)
            self.answers.append(Answer(asked, status, body, i % len(self.params), time.monotonic()))

    def start(self, workers: int) -> list[asyncio.Task]:
        return [asyncio.ensure_future(self.worker(n)) for n in range(workers)]

    def asked_after(self, instant: float) -> list[Answer]:
        return [a for a in self.answers if a.asked > instant]


def check_answers(load: Load, expected: list[dict], timeout_ms: int) -> Counter:
    """Only exact 200s and 503s in the contract's shape (a time limit's 503 names the limit: nobody waited past
    it unanswered)."""
    statuses = Counter(a.status for a in load.answers)
    assert set(statuses) <= {200, 503}, statuses
    for a in load.answers:
        if a.status == 200:
            assert a.body == expected[a.which], load.params[a.which]
        else:
            assert contract_503(a.body, timeout_ms), a.body
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
        health = client.server.app[DB_HEALTH]
        try:
            assert await until(lambda: sum(a.status == 200 for a in load.answers) >= 32, 60)  # under load
            mongo.kill()
            assert await until(lambda: health.down is not None, 60)  # the service knows it is down
            known_down = time.monotonic()
            assert await until(lambda: len(load.asked_after(known_down)) >= 32, 60)
            restarting = time.monotonic()
            await asyncio.to_thread(mongo.restart)
            restarted = time.monotonic()
            recovered = await until(lambda: any(a.status == 200 for a in load.asked_after(restarted)), 60)
        finally:  # the load stops whatever happened, so a failure is reported instead of hanging the teardown
            load.stop = True
            await asyncio.gather(*tasks, return_exceptions=True)
            sync.close()
    statuses = check_answers(load, expected, timeout_ms)
    # Asked once the service knew mongod was down, and answered before it was started again: 503s only. (A request
    # asked just before the restart may wait for the server to come back and rightly be answered with a 200.)
    down = [a.status for a in load.asked_after(known_down) if a.answered < restarting]
    assert down and set(down) == {503}, Counter(down)
    assert recovered and statuses[200] > 0
    print(
        f"killed under load: {dict(statuses)}; while down: {len(down)} x 503; slowest answer "
        f"{max(a.answered - a.asked for a in load.answers) * 1000:.0f} ms (timeout {timeout_ms} ms)"
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
        assert await until(lambda: engine.watcher.healthy)
        load = Load(client, params)
        tasks = load.start(16)
        try:
            assert await until(lambda: sum(a.status == 200 for a in load.answers) >= 32, 60)  # under load
            old_primary = sync.primary
            with contextlib.suppress(PyMongoError):  # the step-down may close the connection that asked for it
                sync.admin.command("replSetStepDown", 30, secondaryCatchUpPeriodSecs=10)
            assert await until(lambda: sync.primary not in (None, old_primary), 60)
            elected = time.monotonic()
            assert await until(lambda: len(load.asked_after(elected)) >= 32, 60)  # and asked of the new primary
        finally:
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

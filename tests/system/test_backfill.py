"""The first start on a database with history: a request whose counting cannot be done within its deadline is
answered at once with a 503 that says so (Retry-After, the progress), the counting goes on and a retry gets the
exact answer; every closed day is counted in the background, its progress shown in /readyz and /metrics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engagement_svc.app import create_app
from engagement_svc.resources import ENGINE
from tests.support.data import fill
from tests.support.http import expected_for, get_messages_sent, until
from tests.support.oracle import closed_days, js


async def readiness(client) -> dict:
    response = await client.get("/readyz")
    assert response.status == 200
    return await response.json()


@pytest.mark.timeout(900)  # a year of 240,000 messages counted twice: minutes on two cores shared with other work
async def test_a_cold_year_is_refused_at_once_then_answered_and_everything_is_backfilled(
    aiohttp_client, settings, users, db
):
    now = datetime.now(UTC)
    fill(db, now - timedelta(days=400), 400, 600)  # 240,000 messages
    app = create_app(replace(settings, warm_days=0, query_timeout_ms=1_000))  # no backfill yet: nothing else
    client = await aiohttp_client(app)
    engine = app[ENGINE]
    assert await until(lambda: engine.work.cost.prior_per_unit is not None, seconds=20)
    # A first request of today alone: the caller's token, the settings and the open days' tracking are read
    # here, so that the request below meets only the counting of the year.
    today = {"start": js(now - timedelta(hours=1)), "end": js(now), "timezone": "Europe/Berlin"}
    assert (await get_messages_sent(client, today))[0] == 200
    params = {"start": js(now - timedelta(days=364)), "end": js(now), "timezone": "Europe/Berlin"}
    status, body = await get_messages_sent(client, params)  # refused before waiting: tests/counting/test_work.py
    assert status == 503 and body["success"] is False and "try again in" in body["error"]
    assert set(body["progress"]) == {"days_counted", "days_left", "seconds_left"}
    # The counting goes on: a retry (as the Retry-After says) gets the exact answer.

    async def answered():
        return await get_messages_sent(client, params) == (200, expected_for(db, params))

    assert await until(answered, seconds=400)
    await client.close()
    # Started again with the backfill on: every closed day of every metric is counted (or read back) in the
    # background; the progress says so, in /metrics too.
    app = create_app(replace(settings, warm_days=36_500))
    client = await aiohttp_client(app)
    engine = app[ENGINE]
    assert await until(lambda: _backfilled(client), seconds=400)
    progress = (await readiness(client))["backfill"]
    first_message = db.rocketchat_message.find_one(sort=[("ts", 1)])["ts"]
    oldest = [first_message, db.users.find_one(sort=[("createdAt", 1)])["createdAt"]]
    expected = closed_days(settings.close_grace_seconds, oldest)  # messages and new users (posts: when asked)
    assert progress == {"days_counted": expected, "days_left": 0, "seconds_left": 0}
    await engine.corrections.refresh()  # the 10-minute refresh drops the oldest times: the progress stays as it is
    assert (await readiness(client))["backfill"] == progress
    text = await (await client.get("/metrics")).text()
    assert f"engagement_svc_backfill_days_counted {float(expected)}" in text
    assert "engagement_svc_backfill_days_left 0.0" in text


async def _backfilled(client) -> bool:
    progress = (await readiness(client))["backfill"]
    return progress["days_left"] == 0 and progress["days_counted"] > 0

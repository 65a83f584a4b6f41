"""A database known to be down is said at once, with its reason, by every request and by /readyz; the service is
back within about a second of MongoDB's return (PyMongo's monitor would wait its 10-second heartbeat)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from engagement_svc.app import create_app
from engagement_svc.mongo_health import REASONS
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, USER_ID, USER_TOKEN
from tests.support.http import until

PATH = "/api/v1/engagement-dashboard/messages/messages-sent"
PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
TIMEOUT_MS = 8000  # each request's limit: a known-down answer must come long before it


@pytest.fixture
async def app_client(aiohttp_client, own_mongo):
    settings = Settings(mongo_url=own_mongo.url_for("rocketchat"), database="rocketchat", query_timeout_ms=TIMEOUT_MS)
    return await aiohttp_client(create_app(settings))


async def readiness(client) -> dict:
    return await (await client.get("/readyz")).json()


async def ask(client, params, headers):
    response = await client.get(PATH, params=params, headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize("stop, reason", [("kill", "refused"), ("freeze", "timeout")])
async def test_known_down_is_answered_at_once_with_the_reason_then_recovers(
    app_client, own_mongo, stop, reason, caplog
):
    caplog.set_level(logging.INFO, logger="engagement_svc")
    assert (await ask(app_client, PARAMS, ADMIN_HEADERS))[0] == 200
    getattr(own_mongo, stop)()
    try:
        text = f"The database is unavailable ({REASONS[reason]}); try again later"

        async def known_down():  # a frozen server is known down once PyMongo's monitor gives up on it
            return (await ask(app_client, PARAMS, ADMIN_HEADERS))[1].get("error") == text

        stopped = time.monotonic()
        assert await until(known_down, seconds=90)
        print(f"{stop}: known down after {time.monotonic() - stopped:.1f} s")
        body = await readiness(app_client)
        assert body["status"] == "unavailable" and body["mongo"] == body["state"] == reason
        # Said at once, not after waiting: a request that waited on the database would end with the time limit's
        # own 503 ("did not answer within 8000 ms"), not with the reason known before it was asked.
        plain = {"X-User-Id": USER_ID, "X-Auth-Token": USER_TOKEN}
        for params, headers in ((PARAMS, ADMIN_HEADERS), (PARAMS, plain), ({"start": "bad"}, ADMIN_HEADERS)):
            assert await ask(app_client, params, headers) == (503, {"success": False, "error": text})
    finally:
        if stop == "freeze":
            own_mongo.thaw()
    if stop == "kill":
        await asyncio.get_running_loop().run_in_executor(None, own_mongo.restart)
    back = time.monotonic()

    async def answered():
        return (await ask(app_client, PARAMS, ADMIN_HEADERS))[0] == 200

    assert await until(answered, seconds=60)
    print(f"{stop}: answered again {time.monotonic() - back:.1f} s after mongod was back")
    assert (await readiness(app_client))["mongo"] == "ok"
    # the outage is in the log once, with its reason, and its end too (the 503s said at once log nothing each)
    lines = [r.getMessage() for r in caplog.records if r.module == "mongo_health"]
    assert lines == [
        f"database down ({REASONS[reason]}): every request is answered 503 until it returns",
        "database reachable again: answering requests",
    ], lines


async def test_a_database_down_from_the_start_is_said_at_once_cors_included(aiohttp_client):
    """Nothing listens where MONGO_URL points: once the monitor knows, every request (one with an Origin too, which
    CORS would have answered after reading Rocket.Chat's settings) gets the known-down 503 with its reason, not a
    time limit's, and it says when to try again."""
    from tests.support.live import free_port

    url = f"mongodb://127.0.0.1:{free_port()}/rocketchat"
    client = await aiohttp_client(
        create_app(Settings(mongo_url=url, database="rocketchat", query_timeout_ms=TIMEOUT_MS))
    )
    text = f"The database is unavailable ({REASONS['refused']}); try again later"

    async def known_down():
        return (await ask(client, PARAMS, ADMIN_HEADERS))[1].get("error") == text

    assert await until(known_down, seconds=60)
    for headers in (ADMIN_HEADERS, {**ADMIN_HEADERS, "Origin": "https://bi.example"}, {}):
        response = await client.get(PATH, params=PARAMS, headers=headers)
        assert (response.status, await response.json()) == (503, {"success": False, "error": text})
        assert response.headers["Retry-After"] == "1" and response.headers["Cache-Control"] == "no-store"

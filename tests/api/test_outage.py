"""A database that hangs or dies gives a prompt 503 in the contract's shape, and the service recovers alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pymongo import MongoClient

from engagement_svc.app import create_app
from engagement_svc.resources import METRICS
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, ADMIN_TOKEN
from tests.support.http import get_messages_sent, until
from tests.support.rocketchat import login_token, room_doc, user_doc

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
TIMEOUT_MS = 1500


def newcomers(mongo, n: int) -> list[dict[str, str]]:
    """The headers of admins who have asked nothing yet: their first request must read their user document, so
    it needs the database whatever the service remembers."""
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    now = datetime.now(UTC)
    client.rocketchat.users.insert_many(
        [user_doc(f"Newcomer{i:09d}", f"newcomer{i}", ["admin"], [login_token(f"new-{i}", now)]) for i in range(n)]
    )
    client.close()
    return [{"X-User-Id": f"Newcomer{i:09d}", "X-Auth-Token": f"new-{i}"} for i in range(n)]


@pytest.fixture
async def outage_client(aiohttp_client, own_mongo):
    settings = Settings(mongo_url=own_mongo.url_for("rocketchat"), database="rocketchat", query_timeout_ms=TIMEOUT_MS)
    return await aiohttp_client(create_app(settings))


async def answered(client, params=PARAMS) -> bool:
    return (await get_messages_sent(client, params, ADMIN_HEADERS))[0] == 200


def in_flight(client) -> float:
    """Requests the service is answering now (its own gauge, read in process)."""
    return client.server.app[METRICS].registry.get_sample_value("engagement_svc_http_requests_in_flight")


async def test_hung_database_gives_503_within_the_timeout_then_recovers(outage_client, own_mongo):
    (newcomer,) = newcomers(own_mongo, 1)
    assert await answered(outage_client)
    own_mongo.freeze()
    try:  # answered while mongod is still frozen: the request did not wait for it to come back
        status, body = await get_messages_sent(outage_client, PARAMS, newcomer)
    finally:
        own_mongo.thaw()
    assert status == 503
    assert body == {"success": False, "error": f"The database did not answer within {TIMEOUT_MS} ms; try again later"}
    assert await until(lambda: answered(outage_client), seconds=60)


async def test_database_stopped_during_a_request_gives_503_then_recovers(outage_client, own_mongo):
    first, second = newcomers(own_mongo, 2)
    assert await answered(outage_client)
    own_mongo.freeze()  # the request below is in flight against a server that then dies
    request = asyncio.ensure_future(get_messages_sent(outage_client, PARAMS, first))
    assert await until(lambda: in_flight(outage_client) >= 1)
    own_mongo.kill()
    status, body = await request
    assert status == 503 and body["success"] is False and "database" in body["error"]

    status, body = await get_messages_sent(outage_client, PARAMS, second)  # while it is down
    assert status == 503 and body["success"] is False

    await asyncio.get_running_loop().run_in_executor(None, own_mongo.restart)
    assert await until(lambda: answered(outage_client), seconds=60)
    status, body = await get_messages_sent(outage_client, PARAMS, ADMIN_HEADERS)
    assert status == 200 and body["days"][0] == {"day": "2024-01-07T00:00:00.000Z", "messages": 0}


async def test_outage_leaves_no_trace_in_logs(outage_client, own_mongo, caplog):
    own_mongo.kill()
    status, _ = await get_messages_sent(outage_client, PARAMS, ADMIN_HEADERS)
    assert status == 503
    text = caplog.text
    assert "Traceback" not in text and ADMIN_TOKEN not in text
    assert "database" in text


async def test_embedded_mongod_dies_with_the_process_that_started_it_and_its_data_goes():
    """A test run or a demo killed outright (a CI timeout, kill -9) leaves no mongod behind, nor its data folder."""
    import os
    import signal
    import subprocess
    import sys

    script = (
        "from engagement_svc.demo.embedded import EmbeddedMongo\n"
        "import sys\nm = EmbeddedMongo(); m.start(); print(m.process.pid, m.dbpath, flush=True); sys.stdin.read()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert parent.stdin is not None and parent.stdout is not None
    pid, dbpath = parent.stdout.readline().split()
    mongod_pid, folder = int(pid), os.path.dirname(dbpath)
    os.kill(mongod_pid, 0)  # running
    assert os.path.isdir(dbpath)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    parent.stdin.close()

    def mongod_running() -> bool:
        try:
            os.kill(mongod_pid, 0)
        except ProcessLookupError:
            return False
        return True

    gone = await until(lambda: not mongod_running() and not os.path.exists(folder), seconds=30)
    if mongod_running():
        os.kill(mongod_pid, signal.SIGKILL)
        raise AssertionError("mongod outlived the process that started it")
    assert gone, "the data folder outlived the mongod whose owner was killed"


async def test_health_and_readiness_follow_the_database(outage_client, own_mongo):
    for path in ("/healthz", "/readyz"):  # no credentials needed
        response = await outage_client.get(path)
        assert response.status == 200 and response.content_type == "application/json"
    assert (await (await outage_client.get("/healthz")).json()) == {"status": "ok"}
    ready = await (await outage_client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["mongo"] == ready["state"] == "ok"

    own_mongo.kill()
    response = await outage_client.get("/readyz")
    body = await response.json()
    assert response.status == 503 and body["status"] == "unavailable" and body["mongo"] != "ok"
    assert (await outage_client.get("/healthz")).status == 200  # alive all the same

    await asyncio.get_running_loop().run_in_executor(None, own_mongo.restart)

    async def ready_again():
        return (await outage_client.get("/readyz")).status == 200

    assert await until(ready_again, seconds=60), "not ready again after mongod came back"


async def test_every_dashboard_endpoint_gives_503_in_an_outage_then_recovers(outage_client, own_mongo):
    """The users tab's session endpoints (and every other) fail the same way, and come back the same way."""
    from engagement_svc.api.routes import REPORTS

    client: MongoClient = MongoClient(own_mongo.url)
    client.rocketchat.rocketchat_room.insert_one(room_doc("OUTAGE", "c", "outage"))  # the room one report tells of
    client.close()

    async def statuses(callers):
        out = []
        for report, headers in zip(REPORTS, callers, strict=True):
            response = await outage_client.get(report.path, params={**PARAMS, "roomId": "OUTAGE"}, headers=headers)
            body = await response.json()
            out.append((response.status, body["success"], "database" in body.get("error", "database")))
        return out

    admin = [ADMIN_HEADERS] * len(REPORTS)
    fresh = newcomers(own_mongo, len(REPORTS))
    assert [s for s, _, _ in await statuses(admin)] == [200] * len(REPORTS)
    own_mongo.freeze()
    try:  # each asked by a newcomer, so that nothing remembered answers
        down = await statuses(fresh)
    finally:
        own_mongo.thaw()
    assert down == [(503, False, True)] * len(REPORTS)
    assert await until(lambda: answered(outage_client), seconds=60)
    assert [s for s, _, _ in await statuses(admin)] == [200] * len(REPORTS)

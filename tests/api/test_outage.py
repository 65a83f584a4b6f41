"""A database that hangs or dies gives a prompt 503 in the contract's shape, and the service recovers alone."""

from __future__ import annotations

import asyncio
import time

import pytest

from engagement_svc.app import create_app
from engagement_svc.rocketchat.workspace import Workspace
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, ADMIN_TOKEN
from tests.support.http import get_messages_sent

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
TIMEOUT_MS = 1500


@pytest.fixture
async def outage_client(aiohttp_client, own_mongo):
    settings = Settings(mongo_url=own_mongo.url_for("rocketchat"), database="rocketchat", query_timeout_ms=TIMEOUT_MS)
    return await aiohttp_client(create_app(settings))


async def timed_request(client):
    began = time.monotonic()
    status, body = await get_messages_sent(client, PARAMS, ADMIN_HEADERS)
    return status, body, time.monotonic() - began


async def wait_for_200(client, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        status, body, _ = await timed_request(client)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        await asyncio.sleep(0.2)


async def test_hung_database_gives_503_within_the_timeout_then_recovers(outage_client, own_mongo):
    assert (await timed_request(outage_client))[0] == 200
    own_mongo.freeze()
    await asyncio.sleep(Workspace.TTL_S + 0.2)  # for a second, what the first request read still answers
    try:
        status, body, elapsed = await timed_request(outage_client)
    finally:
        own_mongo.thaw()
    assert status == 503
    assert body == {"success": False, "error": f"The database did not answer within {TIMEOUT_MS} ms; try again later"}
    assert elapsed < TIMEOUT_MS / 1000 + 2
    status, body = await wait_for_200(outage_client)
    assert status == 200 and body["success"] is True


async def test_database_stopped_during_a_request_gives_503_then_recovers(outage_client, own_mongo):
    assert (await timed_request(outage_client))[0] == 200
    own_mongo.freeze()  # the request below is in flight against a server that then dies
    await asyncio.sleep(Workspace.TTL_S + 0.2)
    request = asyncio.ensure_future(timed_request(outage_client))
    await asyncio.sleep(0.3)
    own_mongo.kill()
    status, body, elapsed = await request
    assert status == 503 and body["success"] is False and "database" in body["error"]
    assert elapsed < TIMEOUT_MS / 1000 + 2

    status, body, elapsed = await timed_request(outage_client)  # while it is down
    assert status == 503 and body["success"] is False and elapsed < TIMEOUT_MS / 1000 + 2

    await asyncio.get_running_loop().run_in_executor(None, own_mongo.restart)
    status, body = await wait_for_200(outage_client)
    assert status == 200 and body["days"][0] == {"day": "2024-01-07T00:00:00.000Z", "messages": 0}


async def test_outage_leaves_no_trace_in_logs(outage_client, own_mongo, caplog):
    own_mongo.kill()
    status, _, _ = await timed_request(outage_client)
    assert status == 503
    text = caplog.text
    assert "Traceback" not in text and ADMIN_TOKEN not in text
    assert "database" in text


def test_embedded_mongod_dies_with_the_process_that_started_it_and_its_data_goes():
    """A test run or a demo killed outright (a CI timeout, kill -9) leaves no mongod behind, nor its data folder."""
    import os
    import signal
    import subprocess
    import sys

    script = (
        "from engagement_svc.demo.embedded import EmbeddedMongo\n"
        "import time\nm = EmbeddedMongo(); m.start(); print(m.process.pid, m.dbpath, flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid, dbpath = parent.stdout.readline().split()
    mongod_pid, folder = int(pid), os.path.dirname(dbpath)
    os.kill(mongod_pid, 0)  # running
    assert os.path.isdir(dbpath)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()

    def mongod_running() -> bool:
        try:
            os.kill(mongod_pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 30
    while (mongod_running() or os.path.exists(folder)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if mongod_running():
        os.kill(mongod_pid, signal.SIGKILL)
        raise AssertionError("mongod outlived the process that started it")
    assert not os.path.exists(folder), "the data folder outlived the mongod whose owner was killed"


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

    deadline = time.monotonic() + 60
    while not await ready_again():
        assert time.monotonic() < deadline, "not ready again after mongod came back"
        await asyncio.sleep(0.2)


async def test_every_dashboard_endpoint_gives_503_in_an_outage_then_recovers(outage_client, own_mongo):
    """The users tab's session endpoints (and every other) fail the same way, and come back the same way."""
    from engagement_svc.api.routes import REPORTS

    async def statuses(params):
        out = []
        for report in REPORTS:
            response = await outage_client.get(report.path, params=params, headers=ADMIN_HEADERS)
            body = await response.json()
            out.append((response.status, body["success"], "database" in body.get("error", "database")))
        return out

    assert [s for s, _, _ in await statuses(PARAMS)] == [200] * len(REPORTS)
    own_mongo.freeze()
    await asyncio.sleep(Workspace.TTL_S + 0.2)
    try:  # a range not asked before, so that nothing remembered answers
        down = await statuses({"start": "2023-06-01T00:00:00.000Z", "end": "2023-06-07T00:00:00.000Z"})
    finally:
        own_mongo.thaw()
    assert down == [(503, False, True)] * len(REPORTS)
    await wait_for_200(outage_client)
    assert [s for s, _, _ in await statuses(PARAMS)] == [200] * len(REPORTS)

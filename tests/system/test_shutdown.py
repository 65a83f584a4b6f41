"""SIGTERM: the service stops listening, lets requests in flight finish, then exits 0; never longer than allowed."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest

from engagement_svc.rocketchat.workspace import Workspace
from tests.support.data import ADMIN_HEADERS
from tests.support.http import MESSAGES_SENT_PATH
from tests.support.live import LiveServer

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


async def request_held_by_the_database(session, server, mongo) -> asyncio.Future:
    """One request answered, then mongod frozen and a second request sent: it waits on the database."""
    url = server.base_url + MESSAGES_SENT_PATH
    async with session.get(url, params=PARAMS, headers=ADMIN_HEADERS) as response:
        assert response.status == 200
    mongo.freeze()
    await asyncio.sleep(Workspace.TTL_S + 0.2)  # what the first request read must be read again
    in_flight = asyncio.ensure_future(session.get(url, params=PARAMS, headers=ADMIN_HEADERS))
    await asyncio.sleep(0.5)
    assert not in_flight.done()
    return in_flight


def served(mongo, query_timeout_ms: int, drain_seconds: int) -> LiveServer:
    return LiveServer(
        mongo.url_for("rocketchat"),
        ENGAGEMENT_WARM_DAYS="0",
        ENGAGEMENT_QUERY_TIMEOUT_MS=str(query_timeout_ms),
        ENGAGEMENT_DRAIN_SECONDS=str(drain_seconds),
    )


async def test_sigterm_lets_a_request_in_flight_finish(own_mongo):
    with served(own_mongo, query_timeout_ms=30_000, drain_seconds=30) as server:
        async with aiohttp.ClientSession() as session:
            try:
                in_flight = await request_held_by_the_database(session, server, own_mongo)
                server.process.send_signal(15)
                deadline = time.monotonic() + 10
                while accepts_connections(server.port):  # it stops listening at once
                    assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
                    await asyncio.sleep(0.05)
                assert not in_flight.done() and server.process.poll() is None  # and waits for the request
            finally:
                own_mongo.thaw()
            response = await in_flight
            body = await response.json()
            assert response.status == 200 and body["success"] is True and len(body["days"]) == 7
        assert await asyncio.to_thread(server.process.wait, 30) == 0
        assert "shutting down" in server.output()


async def test_drain_is_bounded_when_the_database_hangs(own_mongo):
    with served(own_mongo, query_timeout_ms=60_000, drain_seconds=1) as server:
        async with aiohttp.ClientSession() as session:
            try:
                in_flight = await request_held_by_the_database(session, server, own_mongo)
                began = time.monotonic()
                server.process.send_signal(15)
                code = await asyncio.to_thread(server.process.wait, 60)
                stopped_in = time.monotonic() - began
            finally:
                own_mongo.thaw()
            with pytest.raises(aiohttp.ClientError):  # the connection is closed: the client may retry elsewhere
                await in_flight
        assert code == 0 and stopped_in < 10, (code, stopped_in)  # drain 1 s, background work 2 s, close 3 s

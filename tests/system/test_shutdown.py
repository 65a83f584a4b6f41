"""SIGTERM: the service stops listening, lets requests in flight finish, then exits 0; never longer than allowed."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import aiohttp
import pytest
from pymongo import MongoClient

from tests.support.data import ADMIN_HEADERS
from tests.support.http import MESSAGES_SENT_PATH, until
from tests.support.live import LiveServer
from tests.support.rocketchat import login_token, user_doc

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
NEWCOMER = {"X-User-Id": "NewcomerUser00001", "X-Auth-Token": "newcomer-token"}
IN_FLIGHT = "engagement_svc_http_requests_in_flight "


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


async def requests_in_flight(session, server) -> float:
    """The service's own gauge of requests being answered (this one, asking for it, included)."""
    async with session.get(server.base_url + "/metrics") as response:
        text = await response.text()
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith(IN_FLIGHT))


async def request_held_by_the_database(session, server, mongo) -> asyncio.Future:
    """One request answered, then mongod frozen and a second request sent by a user the service has never seen
    (it must read their document): once the service is answering it, it waits on the database."""
    url = server.base_url + MESSAGES_SENT_PATH
    async with session.get(url, params=PARAMS, headers=ADMIN_HEADERS) as response:
        assert response.status == 200
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    client.rocketchat.users.insert_one(
        user_doc(
            NEWCOMER["X-User-Id"], "newcomer", ["admin"], [login_token(NEWCOMER["X-Auth-Token"], datetime.now(UTC))]
        )
    )
    client.close()
    mongo.freeze()
    in_flight = asyncio.ensure_future(session.get(url, params=PARAMS, headers=NEWCOMER))
    assert await until(lambda: held(session, server), seconds=30)
    assert not in_flight.done()
    return in_flight


async def held(session, server) -> bool:
    return await requests_in_flight(session, server) >= 2  # the held request and the one asking


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
                assert await until(lambda: not accepts_connections(server.port), seconds=10)  # it stops listening
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
                server.process.send_signal(15)
                code = await asyncio.to_thread(server.process.wait, 60)
            finally:
                own_mongo.thaw()  # only now: the service stopped while the database still held the request
            # Not answered, not even with its 503 at the request's 60-s limit: the drain (1 s) cut it short and the
            # connection is closed, so the client may retry elsewhere.
            with pytest.raises(aiohttp.ClientError):
                await in_flight
        assert code == 0

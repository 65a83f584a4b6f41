"""The HTTP server's bounds on connections: an idle, half-sent or trickled request is closed after
ENGAGEMENT_KEEPALIVE_SECONDS (aiohttp's own default is an hour), while a request sent in time is answered."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.live import LiveServer
from tests.support.mongo import with_database

KEEPALIVE_S = 2


@pytest.fixture(scope="module")
def server(mongo_url, sync_client):
    name = "rc_keepalive"
    with LiveServer(
        with_database(mongo_url, name),
        ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, name + "_state"),
        ENGAGEMENT_WARM_DAYS="0",
        ENGAGEMENT_KEEPALIVE_SECONDS=str(KEEPALIVE_S),
    ) as live:
        yield live
    sync_client.drop_database(name)
    sync_client.drop_database(name + "_state")


async def closed(reader: asyncio.StreamReader) -> bool:
    """Read until the server closes the connection: True once it has. The 60 s are a bound on the test (aiohttp's
    own keep-alive would leave the connection open far longer), not a figure asserted."""
    while await asyncio.wait_for(reader.read(65536), 60):
        pass
    return True


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # opened, nothing sent
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # a head never finished
    ],
)
async def test_idle_and_half_sent_connections_are_closed(server, sent):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(sent)
        assert await closed(reader)
    finally:
        writer.close()


async def test_a_trickled_head_is_closed_whatever_it_keeps_sending(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        trickling = True

        async def trickle():
            while trickling:
                writer.write(b"a")
                await asyncio.sleep(0.2)  # a slow sender is the behaviour under test: a byte every 0.2 s

        task = asyncio.ensure_future(trickle())
        try:
            assert await closed(reader)
            assert not task.done()  # closed while the client was still sending
        finally:
            trickling = False
            await task
    finally:
        writer.close()


async def test_a_kept_alive_connection_is_answered_then_closed_when_idle(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:])
            await reader.readexactly(length)
        assert await closed(reader)
    finally:
        writer.close()

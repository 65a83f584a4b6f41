"""The HTTP server's bounds on connections: an idle, half-sent or trickled request is closed after
ENGAGEMENT_KEEPALIVE_SECONDS (aiohttp's own default is an hour), while a request sent in time is answered."""

from __future__ import annotations

import asyncio
import time

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


async def closed_after(reader: asyncio.StreamReader, began: float) -> float:
    """Seconds from `began` until the server closed the connection (read to its end; a generous bound)."""
    while await asyncio.wait_for(reader.read(65536), 60):
        pass
    return time.monotonic() - began


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # opened, nothing sent
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # a head never finished
    ],
)
async def test_idle_and_half_sent_connections_are_closed(server, sent):
    began = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(sent)
        elapsed = await closed_after(reader, began)
    finally:
        writer.close()
    assert elapsed >= KEEPALIVE_S - 0.5, elapsed


async def test_a_trickled_head_is_closed_whatever_it_keeps_sending(server):
    began = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        trickling = True

        async def trickle():
            while trickling:
                writer.write(b"a")
                await asyncio.sleep(0.2)

        task = asyncio.ensure_future(trickle())
        try:
            elapsed = await closed_after(reader, began)
        finally:
            trickling = False
            await task
    finally:
        writer.close()
    assert KEEPALIVE_S - 0.5 <= elapsed < KEEPALIVE_S + 15, elapsed


async def test_a_kept_alive_connection_is_answered_then_closed_when_idle(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:])
            await reader.readexactly(length)
        answered = time.monotonic()
        assert KEEPALIVE_S - 0.5 <= await closed_after(reader, answered) < KEEPALIVE_S + 15
    finally:
        writer.close()

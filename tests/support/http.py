"""Asking the service, and comparing its answer with the oracle's."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from tests.support.data import ADMIN_HEADERS
from tests.support.oracle import expected_body, js
from tests.support.paths import MESSAGES_SENT_PATH


async def until(predicate, seconds=30.0):
    """Poll an async predicate until it holds or the time is up (a bound on the test, not a figure asserted)."""
    deadline = time.monotonic() + seconds
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def get_messages_sent(client, params: dict, headers: dict | None = None):
    """GET the endpoint; returns (status, parsed JSON body)."""
    response = await client.get(
        MESSAGES_SENT_PATH, params=params, headers=ADMIN_HEADERS if headers is None else headers
    )
    assert response.content_type == "application/json"
    return response.status, await response.json()


def recent_params(days=7, zone="UTC"):
    now = datetime.now(UTC)
    return {"start": js(now - timedelta(days=days - 1)), "end": js(now), "timezone": zone}


def expected_for(db, params):
    def parse(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    return expected_body(db, parse(params["start"]), parse(params["end"]), params["timezone"])


async def answers_brute_force(client, db, params):
    status, body = await get_messages_sent(client, params)
    return status == 200 and body == expected_for(db, params)


async def raw_exchange(host: str, port: int, data: bytes, seconds: float = 10.0) -> bytes:
    """Send bytes as they are (any header bytes, any framing) and read until the server closes or goes quiet."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), seconds)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)
    finally:
        writer.close()


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def range_cases(fixed: list[tuple[str, str]], zones: list[str], seed: int, longest_days: int, random_ranges: int = 6):
    """(start, end, zone, bots) to ask: the fixed ranges and some random ones in 2024, each in a zone of the list
    in turn, with every value of `bots`."""
    rng = random.Random(seed)
    cases = list(fixed)
    for _ in range(random_ranges):
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 360 * 86_400))
        cases.append((js(start), js(start + timedelta(seconds=rng.uniform(0, longest_days * 86_400)))))
    for i, (start, end) in enumerate(cases):
        for bots in ("include", "exclude", "only"):
            yield start, end, zones[i % len(zones)], bots

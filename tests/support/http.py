"""Asking the service, and comparing its answer with the oracle's."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from datetime import UTC, datetime, timedelta

from tests.support.data import ADMIN_HEADERS
from tests.support.oracle import expected_body, js

# The endpoints' paths as Rocket.Chat's client asks them, written out here (not taken from the service).
API = "/api/v1/engagement-dashboard/"
MESSAGES_SENT_PATH = API + "messages/messages-sent"
ORIGIN_PATH = API + "messages/origin"
TOP_FIVE_PATH = API + "messages/top-five-popular-channels"
CHANNELS_LIST_PATH = API + "channels/list"
NEW_USERS_PATH = API + "users/new-users"
ACTIVE_USERS_PATH = API + "users/active-users"
BY_HOUR_PATH = API + "users/users-by-time-of-the-day-in-a-week"
HOURLY_PATH = API + "users/chat-busier/hourly-data"
WEEKLY_PATH = API + "users/chat-busier/weekly-data"
POSTING_USERS_PATH = API + "users/posting-users"
CLIENTS_PATH = API + "users/clients"
MEMBERS_PATH = API + "users/members"
POLL_S = 0.05


async def until(predicate, seconds=30.0):
    """Await a condition: poll `predicate` (a function returning a value, or an awaitable of one) until its value
    is true, or the time is up; returns the last value. `seconds` bounds the test (a hang becomes a failure), it
    is not a figure asserted."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(POLL_S)  # the poll's interval: what is awaited is the condition


def parse_csv(text: str) -> list[list[str]]:
    """The rows of a CSV answer as Rocket.Chat's page writes it, read strictly: every cell in double quotes
    (inner quotes doubled), cells separated by `;`, every row (the header too) ended by `\\n`. Anything else
    fails the test."""
    rows: list[list[str]] = []
    row: list[str] = []
    i = 0
    while i < len(text):
        assert text[i] == '"', f"cell not quoted at {i}: {text[i : i + 40]!r}"
        cell, i = [], i + 1
        while True:
            j = text.index('"', i)
            cell.append(text[i:j])
            if text[j + 1 : j + 2] == '"':
                cell.append('"')
                i = j + 2
                continue
            i = j + 1
            break
        row.append("".join(cell))
        assert text[i : i + 1] in (";", "\n"), f"no separator after a cell at {i}: {text[i : i + 40]!r}"
        if text[i] == "\n":
            rows.append(row)
            row = []
        i += 1
    assert not row and rows, text[-80:]
    assert len({len(r) for r in rows}) == 1, "rows of different lengths"
    return rows


async def get_csv(client, path: str, params: dict, headers: dict | None = None) -> tuple[str, list[list[str]]]:
    """GET the endpoint as CSV (`format=csv`): its download name and its rows, the header first."""
    response = await client.get(
        path, params={**params, "format": "csv"}, headers=ADMIN_HEADERS if headers is None else headers
    )
    text = await response.text()
    assert response.status == 200, text
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.endswith('.csv"'), disposition
    return disposition[len('attachment; filename="') : -1], parse_csv(text)


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


def range_cases(fixed: list[tuple[str, ...]], zones: list[str], seed: int, longest_days: int, random_ranges: int = 6):
    """(start, end, zone, bots) to ask: the fixed ranges (each in its own zone when it names one: a DST change is
    that zone's) and some random ones in 2024, each other one in a zone of the list in turn, with every value of
    `bots`."""
    rng = random.Random(seed)
    cases = list(fixed)
    for _ in range(random_ranges):
        begins = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 360 * 86_400))
        cases.append((js(begins), js(begins + timedelta(seconds=rng.uniform(0, longest_days * 86_400)))))
    for i, (start, end, *zone) in enumerate(cases):
        for bots in ("include", "exclude", "only"):
            yield start, end, zone[0] if zone else zones[i % len(zones)], bots

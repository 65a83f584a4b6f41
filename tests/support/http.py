"""Asking the service, and comparing its answer with the oracle's."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from engagement_svc.api.routes import MESSAGES_SENT_PATH
from tests.support.data import ADMIN_HEADERS
from tests.support.oracle import expected_body, js


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

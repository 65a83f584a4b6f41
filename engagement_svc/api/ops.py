"""Endpoints for operators, without credentials: liveness, readiness, Prometheus metrics, the OpenAPI file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib.resources import files

import pymongo
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pymongo.errors import PyMongoError

from engagement_svc.api.wire import json_response
from engagement_svc.counting.store import COUNTS_COLLECTION
from engagement_svc.resources import (
    DB_HEALTH,
    DB_PROBLEMS,
    ENGINE,
    METRICS,
    ROCKETCHAT_DB,
    SETTINGS,
    STATE_DB,
    STREAMS,
)

log = logging.getLogger("engagement_svc")
OPENAPI = files("engagement_svc.api").joinpath("openapi.json").read_bytes()


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP. No database, no auth."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Rocket.Chat's MongoDB answers and the state database can be read; 503 otherwise. No auth.
    The backfill's progress is shown, and never holds readiness back: requests are answered meanwhile."""
    settings, db, state_db = request.app[SETTINGS], request.app[ROCKETCHAT_DB], request.app[STATE_DB]
    checks = {"mongo": "ok", "state": "ok"}
    probes: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("mongo", lambda: db.command("ping")),
        ("state", lambda: state_db[COUNTS_COLLECTION].find_one({}, {"_id": 1})),
    ]
    down = request.app[DB_HEALTH].down
    if down:  # known down: said at once, with the reason PyMongo's monitor found
        checks["mongo"] = down
        if not settings.state_mongo_url:  # the state lives on the same server
            checks["state"] = down
        probes = [p for p in probes if checks[p[0]] == "ok"]
    with pymongo.timeout(min(settings.query_timeout_ms, 2_000) / 1000):
        for name, probe in probes:
            for attempt in range(2):
                try:
                    await probe()
                    checks[name] = "ok"
                    break
                except PyMongoError as exc:
                    checks[name] = request.app[DB_PROBLEMS].of(exc)
                    if checks[name] != "unavailable" or attempt:
                        log.warning("readiness: %s database %s (%s)", name, checks[name], type(exc).__name__)
                        break
                    # A connection closed because another one's sign-in was refused says only "unavailable":
                    # asked again, the server says why.
                    await asyncio.sleep(0.1)
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        **checks,
        "change_stream": request.app[STREAMS].healthy,
        "backfill": request.app[ENGINE].progress(),
    }
    return json_response(body, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition. No auth, like /healthz: it holds counts and timings, no user data."""
    body = await request.app[METRICS].scrape()  # the engagement gauges refreshed first, if due (bounded wait)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document kept in the package (engagement_svc/api/openapi.json)."""
    return web.Response(body=OPENAPI, content_type="application/json")

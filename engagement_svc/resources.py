"""What the application holds: its settings, the MongoDB clients and the engine, each under a typed key.

The clients and the engine are made and closed by `mongo_context`, the app's cleanup context, so that a test
app, a demo and a production process own their resources the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from aiohttp import web
from pymongo import AsyncMongoClient

from engagement_svc import __version__
from engagement_svc.counting.engine import Engine
from engagement_svc.metrics import Metrics
from engagement_svc.rocketchat.auth import SharedDocuments
from engagement_svc.rocketchat.ratelimit import RateLimiter
from engagement_svc.settings import Settings

log = logging.getLogger("engagement_svc")

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
ENGINE = web.AppKey("engine", Engine)
AUTH_DOCUMENTS = web.AppKey("auth_documents", SharedDocuments)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
CLOSE_TIMEOUT_S = 3


def mongo_client(settings: Settings, metrics: Metrics | None = None) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        event_listeners=[metrics.listener] if metrics else [],
        appname=f"engagement-svc/{__version__}",
        serverSelectionTimeoutMS=settings.query_timeout_ms,
        connectTimeoutMS=min(settings.query_timeout_ms, 10_000),
    )


async def mongo_context(app: web.Application) -> AsyncIterator[None]:
    """The clients (Rocket.Chat's database, and the state database if it is elsewhere) and the engine."""
    settings, metrics = app[SETTINGS], app[METRICS]
    client = mongo_client(settings, metrics)
    state_client = (
        mongo_client(replace(settings, mongo_url=settings.state_mongo_url), metrics)
        if settings.state_mongo_url
        else client
    )
    app[ENGINE] = engine = Engine(client[settings.database], state_client[settings.state_database], settings)
    engine.start()
    yield
    pending = await engine.stop()
    # Closing ends the server sessions, which waits on a hung server for its socket timeout (15 s seen):
    # give it CLOSE_TIMEOUT_S, then leave the sockets to the process's exit.
    closing = {asyncio.ensure_future(c.close()) for c in {client, state_client}}
    _, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
    if late:
        log.warning("MongoDB did not close its connections within %d s; exiting regardless", CLOSE_TIMEOUT_S)
    elif pending:  # their sockets are closed now: they end at once
        await asyncio.wait(pending, timeout=CLOSE_TIMEOUT_S)

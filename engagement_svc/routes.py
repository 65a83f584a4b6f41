"""The HTTP application: Rocket.Chat's REST contract for the engagement dashboard, JSON for every answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from importlib.resources import files

import pymongo
from aiohttp import web
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from engagement_svc import __version__
from engagement_svc.auth import SharedDocuments, authorize
from engagement_svc.config import Settings
from engagement_svc.counts import messages_sent_json
from engagement_svc.engine import Engine
from engagement_svc.logs import request_log, silence_driver
from engagement_svc.metrics import METRICS, Metrics, metrics_handler, observe
from engagement_svc.params import BadRequest, parse_query
from engagement_svc.ratelimit import RateLimiter

log = logging.getLogger("engagement_svc")

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
AUTH_DOCUMENTS = web.AppKey("auth_documents", SharedDocuments)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
OPENAPI = web.AppKey("openapi", bytes)
CLOSE_TIMEOUT_S = 3

MESSAGES_SENT_PATH = "/api/v1/engagement-dashboard/messages/messages-sent"

UNAUTHORIZED = {"status": "error", "message": "You must be logged in to do this."}
FORBIDDEN = {"success": False,
             "error": "User does not have the permissions required for this action [error-unauthorized]"}


def failure(status: int, error: str, **kwargs) -> web.Response:
    return web.json_response({"success": False, "error": error}, status=status, **kwargs)


async def messages_sent_handler(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    engine = request.app[ENGINE]
    limit = settings.query_timeout_ms / 1000
    headers: dict[str, str] = {}  # the rate limit's, on every answer after it
    try:
        # One deadline for the whole request. PyMongo sends what is left of it as maxTimeMS; counting that other
        # requests share runs in the background and goes on past it, so a retry finds it done.
        async with asyncio.timeout(limit):
            with pymongo.timeout(limit):
                access = await authorize(engine.db, request.headers.get("X-User-Id"),
                                         request.headers.get("X-Auth-Token"), request.app[AUTH_DOCUMENTS])
                if access.status == 401:
                    return web.json_response(UNAUTHORIZED, status=401)
                if access.status == 403:
                    return web.json_response(FORBIDDEN, status=403)
                limiter = request.app.get(RATE_LIMITER)
                if limiter is not None and not access.bypass_rate_limit:
                    verdict = limiter.hit(request.headers["X-User-Id"])
                    headers.update(verdict.headers())
                    if not verdict.allowed:
                        request.app[METRICS].rate_limited.inc()
                        return failure(429, verdict.error(), headers=headers)
                query = parse_query(request.query, settings.timezone, settings.max_range_days)
                first = query.first_day - timedelta(days=query.days)  # the window before the range, then the range
                totals = await engine.totals(query.zone, first, query.last_day)
                return web.Response(text=messages_sent_json(query.first_day, query.zone, totals),
                                    content_type="application/json", headers=headers)
    except BadRequest as exc:
        return failure(400, str(exc), headers=headers)
    except (TimeoutError, PyMongoError) as exc:
        if isinstance(exc, TimeoutError) or exc.timeout:
            log.warning("database timeout after %d ms: %s", settings.query_timeout_ms, type(exc).__name__)
            return failure(503, f"The database did not answer within {settings.query_timeout_ms} ms; try again later",
                           headers=headers)
        log.warning("database unavailable: %s", type(exc).__name__)
        return failure(503, "The database is unavailable; try again later", headers=headers)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP. No database, no auth."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Rocket.Chat's MongoDB answers and the state database can be read; 503 otherwise. No auth."""
    engine = request.app[ENGINE]
    checks = {"mongo": "ok", "state": "ok"}
    with pymongo.timeout(min(request.app[SETTINGS].query_timeout_ms, 2_000) / 1000):
        for name, probe in (("mongo", lambda: engine.db.command("ping")),
                            ("state", lambda: engine.store.collection.find_one({}, {"_id": 1}))):
            try:
                await probe()
            except PyMongoError as exc:
                checks[name] = "timeout" if exc.timeout else "unavailable"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "unavailable", **checks, "change_stream": engine.watcher.healthy}
    return web.json_response(body, status=200 if ready else 503)


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Routing errors and anything unexpected answer in the contract's JSON shape; no trace leaves the process."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        text = {404: "Not found", 405: "Method not allowed"}.get(exc.status, exc.reason)
        return failure(exc.status, f"{text}: {request.method} {request.path}", headers=headers)
    except Exception as exc:  # a bug: answer 500 without detail and log one line without a trace
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.path)
        return failure(500, "Internal server error")


async def openapi_handler(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document kept in the package (engagement_svc/openapi.json). No auth."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


def mongo_client(settings: Settings, metrics: Metrics | None = None) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        event_listeners=[metrics.listener] if metrics else [],
        appname=f"engagement-svc/{__version__}",
        serverSelectionTimeoutMS=settings.query_timeout_ms,
        connectTimeoutMS=min(settings.query_timeout_ms, 10_000),
    )


def create_app(settings: Settings) -> web.Application:
    silence_driver()
    app = web.Application(middlewares=[observe, request_log, json_errors])
    app[SETTINGS] = settings
    app[AUTH_DOCUMENTS] = SharedDocuments()
    app[METRICS] = metrics = Metrics(lambda: app.get(ENGINE))
    app[OPENAPI] = files("engagement_svc").joinpath("openapi.json").read_bytes()
    if settings.rate_limit_calls:
        app[RATE_LIMITER] = RateLimiter(settings.rate_limit_calls, settings.rate_limit_seconds)

    async def mongo_ctx(app: web.Application) -> AsyncIterator[None]:
        client = mongo_client(settings, metrics)
        state_client = mongo_client(replace(settings, mongo_url=settings.state_mongo_url), metrics) \
            if settings.state_mongo_url else client
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

    async def draining(app: web.Application) -> None:
        log.info("shutting down: no new connections; requests in flight get up to %d s", settings.drain_seconds)

    app.on_shutdown.append(draining)
    app.cleanup_ctx.append(mongo_ctx)
    app.router.add_get(MESSAGES_SENT_PATH, messages_sent_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/api/openapi.json", openapi_handler)
    return app

"""The composition root: the aiohttp application from settings, its middlewares, resources and routes."""

from __future__ import annotations

import logging

from aiohttp import web

from engagement_svc.api.cors import cors, cors_headers
from engagement_svc.api.errors import json_errors
from engagement_svc.api.middleware import observe, request_log
from engagement_svc.api.routes import add_routes
from engagement_svc.api.server import server_header
from engagement_svc.digest.schedule import digest_context
from engagement_svc.logs import silence_driver
from engagement_svc.metrics import Metrics
from engagement_svc.mongo_errors import DatabaseProblems
from engagement_svc.resources import (
    DB_PROBLEMS,
    METRICS,
    RATE_LIMITER,
    SETTINGS,
    TRUSTED_PROXIES,
    WORKSPACE,
    figures,
    memory_context,
    mongo_context,
)
from engagement_svc.rocketchat.ratelimit import RateLimiter
from engagement_svc.rocketchat.workspace import Workspace
from engagement_svc.settings import Settings, networks

log = logging.getLogger("engagement_svc")


def create_app(settings: Settings) -> web.Application:
    silence_driver()
    app = web.Application(middlewares=[observe, request_log, cors, json_errors])
    app[SETTINGS] = settings
    app[WORKSPACE] = Workspace(settings.query_timeout_ms / 1000)
    app[METRICS] = Metrics(lambda: figures(app))
    app[RATE_LIMITER] = RateLimiter()
    app[DB_PROBLEMS] = DatabaseProblems()
    app[TRUSTED_PROXIES] = networks(settings.trusted_proxies)

    async def draining(app: web.Application) -> None:
        log.info("shutting down: no new connections; requests in flight get up to %d s", settings.drain_seconds)

    app.on_shutdown.append(draining)
    app.on_response_prepare.append(server_header)
    app.on_response_prepare.append(cors_headers)
    app.cleanup_ctx.append(memory_context)
    app.cleanup_ctx.append(mongo_context)
    app.cleanup_ctx.append(digest_context)  # the weekly digest, when a webhook is set: after the engine, stopped first
    add_routes(app)
    return app

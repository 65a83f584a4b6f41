"""The routes table: every dashboard endpoint (a path, its parameters, its answer) and the operators' ones."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from engagement_svc.api import ops
from engagement_svc.api.params import RangeQuery, parse_range
from engagement_svc.api.pipeline import Endpoint, handler
from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.counting.engine import Engine
from engagement_svc.counting.slots import day_spans
from engagement_svc.reports import messages

API = "/api/v1/engagement-dashboard"


async def messages_sent(engine: Engine, q: RangeQuery) -> str:
    first = q.first_day - timedelta(days=q.days)  # the window before the range, then the range
    spans = day_spans(q.zone, first, q.last_day)
    totals = await engine.counts(MESSAGES, spans)
    return messages.messages_sent_json([s.lo_s for s in spans], totals)


ENDPOINTS = (
    Endpoint(
        f"{API}/messages/messages-sent",
        "messages sent per day, with the period's and yesterday's variations",
        parse_range,
        messages_sent,
    ),
)
MESSAGES_SENT_PATH = ENDPOINTS[0].path

OPS = (
    ("/healthz", ops.healthz),
    ("/readyz", ops.readyz),
    ("/metrics", ops.metrics),
    ("/api/openapi.json", ops.openapi),
)


def add_routes(app: web.Application) -> None:
    for endpoint in ENDPOINTS:
        app.router.add_get(endpoint.path, handler(endpoint))
    for path, function in OPS:
        app.router.add_get(path, function)

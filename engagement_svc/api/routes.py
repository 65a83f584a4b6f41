"""The routes table: every dashboard endpoint (a path, its parameters, its answers) and the operators' ones."""

from __future__ import annotations

from aiohttp import web

from engagement_svc.api import answers, ops
from engagement_svc.api.params import parse_list, parse_range
from engagement_svc.api.pipeline import Endpoint, handler

API = "/api/v1/engagement-dashboard"

ENDPOINTS = (
    Endpoint(
        f"{API}/messages/messages-sent",
        "messages sent per day, with the period's and yesterday's variations",
        parse_range,
        answers.messages_sent,
        answers.messages_sent_csv,
    ),
    Endpoint(
        f"{API}/messages/origin",
        "messages sent in the range per room type (c, p, d)",
        parse_range,
        answers.origin,
        answers.origin_csv,
    ),
    Endpoint(
        f"{API}/messages/top-five-popular-channels",
        "the five rooms with the most messages sent in the range",
        parse_range,
        answers.top_five,
        answers.top_five_csv,
    ),
    Endpoint(
        f"{API}/users/new-users",
        "accounts created per day (anonymous users left out), with the period's and yesterday's variations",
        parse_range,
        answers.new_users,
        answers.new_users_csv,
    ),
    Endpoint(
        f"{API}/channels/list",
        "every room with messages in the range or the one before, one page, sorted",
        parse_list,
        answers.channel_list,
        answers.channel_list_csv,
    ),
)
MESSAGES_SENT_PATH, ORIGIN_PATH, TOP_FIVE_PATH, NEW_USERS_PATH, CHANNELS_LIST_PATH = (e.path for e in ENDPOINTS)

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

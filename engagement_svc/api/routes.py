"""The routes table: every dashboard endpoint (a path, its parameters, its answers) and the operators' ones."""

from __future__ import annotations

from aiohttp import web

from engagement_svc.api import answers, ops
from engagement_svc.api.page import add_page_routes
from engagement_svc.api.pipeline import Endpoint, handler
from engagement_svc.reports.queries import parse_day, parse_list, parse_range

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
        f"{API}/users/active-users",
        "per day, the distinct users with a session (and their ids), with the 7- and 30-day distinct users",
        parse_range,
        answers.active_users,
        answers.active_users_csv,
    ),
    Endpoint(
        f"{API}/users/users-by-time-of-the-day-in-a-week",
        "per day and wall-clock hour, the distinct users with a session",
        parse_range,
        answers.by_hour,
        answers.by_hour_csv,
    ),
    Endpoint(
        f"{API}/users/chat-busier/hourly-data",
        "the day holding start: the distinct users with a session in each two hours",
        parse_day,
        answers.hourly,
        answers.hourly_csv,
    ),
    Endpoint(
        f"{API}/users/chat-busier/weekly-data",
        "the seven days ending with the day holding start: the distinct users with a session per day",
        parse_day,
        answers.weekly,
        answers.weekly_csv,
    ),
    Endpoint(
        f"{API}/channels/list",
        "every room with messages in the range or the one before, one page, sorted",
        parse_list,
        answers.channel_list,
        answers.channel_list_csv,
    ),
)
(
    MESSAGES_SENT_PATH,
    ORIGIN_PATH,
    TOP_FIVE_PATH,
    NEW_USERS_PATH,
    ACTIVE_USERS_PATH,
    BY_HOUR_PATH,
    HOURLY_PATH,
    WEEKLY_PATH,
    CHANNELS_LIST_PATH,
) = (e.path for e in ENDPOINTS)

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
    add_page_routes(app)

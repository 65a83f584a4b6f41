"""The routes table: every dashboard endpoint (a report: its path, parameters and answers) and the operators' ones.
Each report has its entry in openapi.json, with the same parameters (tests/api/test_openapi.py checks)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engagement_svc.api import ops
from engagement_svc.api.page import add_page_routes
from engagement_svc.api.pipeline import handler
from engagement_svc.reports import (
    active_users,
    channel_room,
    channels_list,
    clients,
    hourly,
    members,
    messages_sent,
    new_users,
    origin,
    posting_users,
    teams,
    top_five,
    users_by_hour,
    weekly,
)
from engagement_svc.reports.report import Report

REPORTS: list[Report[Any]] = [
    messages_sent.REPORT,
    origin.REPORT,
    top_five.REPORT,
    new_users.REPORT,
    active_users.REPORT,
    users_by_hour.REPORT,
    hourly.REPORT,
    weekly.REPORT,
    channels_list.REPORT,
    posting_users.REPORT,
    clients.REPORT,
    members.REPORT,
    teams.REPORT,
    channel_room.REPORT,
]

OPS = (
    ("/healthz", ops.healthz),
    ("/readyz", ops.readyz),
    ("/metrics", ops.metrics),
    ("/api/openapi.json", ops.openapi),
)


def add_routes(app: web.Application) -> None:
    for report in REPORTS:
        app.router.add_get(report.path, handler(report))
    for path, function in OPS:
        app.router.add_get(path, function)
    add_page_routes(app)

"""users/users-by-time-of-the-day-in-a-week: per day of the range and wall-clock hour, the distinct users with a
session."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TypedDict

from engagement_svc.counting.catalog import ACTIVE_USERS
from engagement_svc.days import iso_seconds
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


async def by_hour(sources: Sources, q: RangeQuery) -> tuple[list[date], list[list[int]]]:
    return await remembered(sources.counts, ACTIVE_USERS, REPORT.key(q), lambda: _counted(sources, q), q=q)


async def _counted(sources: Sources, q: RangeQuery) -> tuple[list[date], list[list[int]]]:
    """The range's days and, per day, the distinct active users of each wall-clock hour 0-23."""
    per_day = sources.calendar.hour_spans(q.zone, q.first_day, q.last_day)
    flat = [s for hours in per_day for s in hours]
    found = await sources.counts.distinct(ACTIVE_USERS, flat, ACTIVE_USERS.counted_for(q.bots))
    days = [q.first_day + timedelta(days=i) for i in range(q.days)]
    return days, [found[24 * i : 24 * i + 24] for i in range(q.days)]


class HourCell(TypedDict):
    """A row of the JSON answer: a day's wall-clock hour, its distinct users."""

    day: int
    month: int
    year: int
    hour: int
    users: int


def by_hour_rows(days: Sequence[date], hours: Sequence[Sequence[int]]) -> list[HourCell]:
    """Every day x hour cell, newest day first, hour 23 to 0 within a day."""
    return [
        {"day": d.day, "month": d.month, "year": d.year, "hour": h, "users": users[h]}
        for d, users in zip(reversed(days), reversed(hours), strict=True)
        for h in range(23, -1, -1)
    ]


def by_hour_json(days: Sequence[date], hours: Sequence[Sequence[int]]) -> str:
    return json.dumps({"week": by_hour_rows(days, hours), "success": True}, separators=(",", ":"))


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    return by_hour_json(*await by_hour(sources, q))


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    """Every day x hour cell, newest first: the hour's start as a UTC instant, its users."""
    days, hours = await by_hour(sources, q)
    per_day = sources.calendar.hour_spans(q.zone, q.first_day, q.last_day)
    rows = [
        (iso_seconds(per_day[i][h].lo_s), hours[i][h]) for i in range(len(days) - 1, -1, -1) for h in range(23, -1, -1)
    ]
    return lines_of(rows)


REPORT = Report(
    path=f"{DASHBOARD}/users/users-by-time-of-the-day-in-a-week",
    summary="per day and wall-clock hour, the distinct users with a session",
    params=RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="users-by-time-of-the-day",
    csv_header=("Date", "Users"),
)

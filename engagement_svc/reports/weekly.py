"""users/chat-busier/weekly-data: the seven days ending with the day holding `start`, the distinct users with a
session per day."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TypedDict

from engagement_svc.counting.catalog import ACTIVE_USERS
from engagement_svc.days import iso_seconds
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import DAY, DayQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import WEEK_DAYS


async def busier_days(sources: Sources, q: DayQuery) -> tuple[list[date], list[int], list[int]]:
    return await remembered(sources.counts, ACTIVE_USERS, REPORT.key(q), lambda: _counted(sources, q), q=q)


async def _counted(sources: Sources, q: DayQuery) -> tuple[list[date], list[int], list[int]]:
    """The seven days ending with the day: days, local midnights, distinct active users."""
    spans = sources.calendar.day_spans(q.zone, q.day - timedelta(days=WEEK_DAYS - 1), q.day)
    found = await sources.counts.distinct(ACTIVE_USERS, spans, ACTIVE_USERS.counted_for(q.bots))
    days = [q.day - timedelta(days=WEEK_DAYS - 1 - i) for i in range(WEEK_DAYS)]
    return days, [s.lo_s for s in spans], found


class DayRow(TypedDict):
    """A row of the JSON answer: a day, its distinct users."""

    day: int
    month: int
    year: int
    users: int


def weekly_rows(days: Sequence[date], users: Sequence[int]) -> list[DayRow]:
    """Seven days, newest first."""
    return [
        {"day": d.day, "month": d.month, "year": d.year, "users": n}
        for d, n in zip(reversed(days), reversed(users), strict=True)
    ]


def weekly_json(days: Sequence[date], users: Sequence[int]) -> str:
    return json.dumps({"month": weekly_rows(days, users), "success": True}, separators=(",", ":"))


async def json_answer(sources: Sources, q: DayQuery) -> str:
    days, _, found = await busier_days(sources, q)
    return weekly_json(days, found)


async def csv_lines(sources: Sources, q: DayQuery) -> Lines:
    """Seven days, newest first: each day's local midnight as a UTC instant, its users."""
    _, midnights, found = await busier_days(sources, q)
    return lines_of((iso_seconds(midnights[i]), found[i]) for i in range(WEEK_DAYS - 1, -1, -1))


REPORT = Report(
    path=f"{DASHBOARD}/users/chat-busier/weekly-data",
    summary="the seven days ending with the day holding start: the distinct users with a session per day",
    params=DAY,
    json=json_answer,
    csv=csv_lines,
    csv_name="busier-days",
    csv_header=("Date", "Users"),
)

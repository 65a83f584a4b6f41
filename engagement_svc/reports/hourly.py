"""users/chat-busier/hourly-data: the day holding `start`, the distinct users with a session in each two hours."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TypedDict

from engagement_svc.counting.catalog import ACTIVE_USERS
from engagement_svc.counting.slots import span_of_seconds
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import DAY, DayQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


async def busier_hours(sources: Sources, q: DayQuery) -> list[int]:
    return await remembered(sources.counts, ACTIVE_USERS, REPORT.key(q), lambda: _counted(sources, q), q=q)


async def _counted(sources: Sources, q: DayQuery) -> list[int]:
    """The distinct active users of each two hours [2i, 2i + 2), i = 0..11, of the day."""
    hours = sources.calendar.hour_spans(q.zone, q.day, q.day)[0]
    two_hours = [span_of_seconds(hours[2 * i].lo_s, max(hours[2 * i + 1].hi_s, hours[2 * i].hi_s)) for i in range(12)]
    return await sources.counts.distinct(ACTIVE_USERS, two_hours, ACTIVE_USERS.counted_for(q.bots))


class HourRow(TypedDict):
    """A row of the JSON answer: the two hours from `hour`, their distinct users."""

    hour: int
    users: int


def hourly_rows(pairs: Sequence[int]) -> list[HourRow]:
    """Twelve two-hour rows of one day, hours 22, 20, ..., 0; `pairs[i]` is hours 2i and 2i + 1 together."""
    return [{"hour": 2 * i, "users": pairs[i]} for i in range(11, -1, -1)]


def hourly_json(pairs: Sequence[int]) -> str:
    return json.dumps({"hours": hourly_rows(pairs), "success": True}, separators=(",", ":"))


async def json_answer(sources: Sources, q: DayQuery) -> str:
    return hourly_json(await busier_hours(sources, q))


async def csv_lines(sources: Sources, q: DayQuery) -> Lines:
    return lines_of((row["hour"], row["users"]) for row in hourly_rows(await busier_hours(sources, q)))


REPORT = Report(
    path=f"{DASHBOARD}/users/chat-busier/hourly-data",
    summary="the day holding start: the distinct users with a session in each two hours",
    params=DAY,
    json=json_answer,
    csv=csv_lines,
    csv_name="busier-hours",
    csv_header=("Hour", "Users"),
)

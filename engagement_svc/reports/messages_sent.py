"""messages/messages-sent: messages sent per day of the range, newest first, with the period's and yesterday's
variations."""

from __future__ import annotations

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import daily_answer, daily_csv
from engagement_svc.reports.queries import TEAM_RANGE, RangeQuery
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    return await daily_answer(sources, MESSAGES, REPORT.key(q), q, "messages")


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    return await daily_csv(sources, MESSAGES, q)


REPORT = Report(
    path=f"{DASHBOARD}/messages/messages-sent",
    summary="messages sent per day, with the period's and yesterday's variations",
    params=TEAM_RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="messages-sent",
    csv_header=("Date", "Messages"),
)

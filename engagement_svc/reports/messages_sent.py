"""messages/messages-sent: messages sent per day of the range, newest first, with the period's and yesterday's
variations."""

from __future__ import annotations

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import daily_json, daily_lines, daily_totals
from engagement_svc.reports.queries import RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    """Remembered while the counts stay the same: a long range asked again is one lookup, not a day's entry
    each."""
    return await remembered(sources.counts, MESSAGES, REPORT.key(q), lambda: _json(sources, q))


async def _json(sources: Sources, q: RangeQuery) -> str:
    totals = await daily_totals(sources.counts, MESSAGES, q, sources.calendar)
    return daily_json(*totals, calendar=sources.calendar)


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    return daily_lines(q, *await daily_totals(sources.counts, MESSAGES, q, sources.calendar))


REPORT = Report(
    path=f"{DASHBOARD}/messages/messages-sent",
    summary="messages sent per day, with the period's and yesterday's variations",
    params=RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="messages-sent",
    csv_header=("Date", "Messages"),
)

"""users/new-users: accounts created per day of the range (anonymous users left out), newest first, with the
period's and yesterday's variations: messages-sent's shape and rules, in users."""

from __future__ import annotations

from engagement_svc.counting.catalog import NEW_USERS
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import daily_json, daily_lines, daily_totals
from engagement_svc.reports.queries import RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    """Remembered while the counts stay the same: a long range asked again is one lookup, not a day's entry
    each."""
    return await remembered(sources.counts, NEW_USERS, REPORT.key(q), lambda: _json(sources, q))


async def _json(sources: Sources, q: RangeQuery) -> str:
    totals = await daily_totals(sources.counts, NEW_USERS, q, sources.calendar)
    return daily_json(*totals, field="users", calendar=sources.calendar)


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    return daily_lines(q, *await daily_totals(sources.counts, NEW_USERS, q, sources.calendar))


REPORT = Report(
    path=f"{DASHBOARD}/users/new-users",
    summary="accounts created per day (anonymous users left out), with the period's and yesterday's variations",
    params=RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="new-users",
    csv_header=("Date", "New Users"),
)

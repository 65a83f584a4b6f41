"""users/new-users: accounts created per day of the range (anonymous users left out), newest first, with the
period's and yesterday's variations: messages-sent's shape and rules, in users."""

from __future__ import annotations

from engagement_svc.counting.catalog import NEW_USERS
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import daily_answer, daily_csv
from engagement_svc.reports.queries import RANGE, RangeQuery
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    return await daily_answer(sources, NEW_USERS, REPORT.key(q), q, "users")


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    return await daily_csv(sources, NEW_USERS, q)


REPORT = Report(
    path=f"{DASHBOARD}/users/new-users",
    summary="accounts created per day (anonymous users left out), with the period's and yesterday's variations",
    params=RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="new-users",
    csv_header=("Date", "New Users"),
)

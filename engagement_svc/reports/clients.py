"""users/clients: per day of the range and client (web, desktop, mobile, other), the distinct users active that
day through a session of that client; and per client, the distinct users of the whole range."""

from __future__ import annotations

from typing import NamedTuple

from engagement_svc.counting.catalog import CLIENT_SESSIONS, CLIENTS, FLAG
from engagement_svc.counting.slots import span_of_seconds
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import named, named_days_json, named_days_lines
from engagement_svc.reports.queries import RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Sources


class ByClient(NamedTuple):
    """Oldest day first: each day's local midnight (seconds) and its users per client (in CLIENTS' order); the
    range's users per client."""

    midnights: list[int]
    days: list[tuple[int, ...]]
    period: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return 200 + 150 * len(self.days)


def of_client(client: str, bots: str) -> tuple[str, ...]:
    """The classes that count for one client under the bots choice (a bot's sessions are flagged)."""
    return tuple(kind for kind in CLIENT_SESSIONS.counted_for(bots) if kind.split(FLAG, 1)[0] == client)


async def by_client(sources: Sources, q: RangeQuery) -> ByClient:
    return await remembered(sources.counts, CLIENT_SESSIONS, REPORT.key(q, "days"), lambda: _counted(sources, q), q=q)


async def _counted(sources: Sources, q: RangeQuery) -> ByClient:
    spans = sources.calendar.day_spans(q.zone, q.first_day, q.last_day)
    in_range = span_of_seconds(spans[0].lo_s, spans[-1].hi_s)
    per_client: list[list[int]] = []
    period: list[int] = []
    for client in CLIENTS:
        counted = of_client(client, q.bots)
        per_client.append(await sources.counts.distinct(CLIENT_SESSIONS, spans, counted))
        period.append((await sources.counts.distinct(CLIENT_SESSIONS, [in_range], counted))[0])
    days = list(zip(*per_client, strict=True))
    return ByClient([s.lo_s for s in spans], days, tuple(period))


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    async def compute() -> str:
        found = await by_client(sources, q)
        days = named_days_json(found.midnights, found.days, CLIENTS, sources.calendar.iso_seconds)
        return f'{{"days":[{days}],"period":{{{named(CLIENTS, found.period)}}},"success":true}}'

    return await remembered(sources.counts, CLIENT_SESSIONS, REPORT.key(q, "json"), compute, q=q)


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    """Per day of the range, newest first: its local midnight as a UTC instant and its users per client."""
    found = await by_client(sources, q)
    return named_days_lines(found.midnights, found.days, sources.calendar.iso_seconds)


REPORT = Report(
    path=f"{DASHBOARD}/users/clients",
    summary="per day and client (web, desktop, mobile, other), the distinct users active through it; the period's",
    params=RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="clients",
    csv_header=("Date", "Web", "Desktop", "Mobile", "Other"),
)

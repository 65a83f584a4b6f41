"""A count per day of the range, newest first, with the period's and yesterday's variations: the shape of
messages-sent (in messages) and new-users (in users), in JSON and CSV; and days of several named counts (people
posting with their WAU and MAU, users by client)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engagement_svc.counting.catalog import Metric
from engagement_svc.days import iso_seconds
from engagement_svc.reports.calendar import Calendar, day_entry
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.rooms import team_depends, team_rooms
from engagement_svc.reports.sources import Counts, Key, RoomSet, Sources
from engagement_svc.reports.windows import days_with_before


async def daily_totals(
    counts: Counts, metric: Metric, q: RangeQuery, calendar: Calendar | None = None, rooms: RoomSet = None
) -> tuple[list[int], list[int]]:
    """Local midnights and totals of the window before the range, then of the range, day by day (of these rooms
    alone, when given)."""
    spans = days_with_before(q, calendar)
    totals = await counts.sums(metric, spans, metric.counted_for(q.bots), rooms)
    return [s.lo_s for s in spans], totals


def daily_json(
    midnights: Sequence[int], totals: Sequence[int], field: str = "messages", calendar: Calendar | None = None
) -> str:
    """The body from the local midnights and totals of the window before the range and of the range (oldest
    first, equally long): every day of the range newest first, zeros included; the period's variation against
    the window before; the last day's against the day before it."""
    n = len(totals) // 2
    previous, in_range = totals[:n], totals[n:]
    period = sum(in_range)
    yesterday = totals[-2]
    entry = day_entry if calendar is None else calendar.day_entry
    days = ",".join([entry(midnights[i], totals[i], field) for i in range(len(totals) - 1, n - 1, -1)])
    return (
        f'{{"days":[{days}],"period":{{"count":{period},"variation":{period - sum(previous)}}},'
        f'"yesterday":{{"count":{yesterday},"variation":{totals[-1] - yesterday}}},"success":true}}'
    )


def daily_lines(q: RangeQuery, midnights: Sequence[int], totals: Sequence[int]) -> Lines:
    """The CSV rows: each day of the range (its local midnight as a UTC instant) and its count, newest first."""
    days = [(iso_seconds(midnights[i]), totals[i]) for i in range(len(totals) - 1, q.days - 1, -1)]
    return lines_of(days)


def named_days_json(
    midnights: Sequence[int], rows: Sequence[Sequence[int]], fields: Sequence[str], iso: Callable[[int], str]
) -> str:
    """The `days` array of several counts a day (people posting, users by client): each day of the range newest
    first, its local midnight as a UTC instant and its counts under their names."""
    return ",".join(
        f'{{"day":"{iso(midnights[i])}",{named(fields, row)}}}' for i, row in reversed(list(enumerate(rows)))
    )


def named(fields: Sequence[str], values: Sequence[int]) -> str:
    """Counts under their names, as the members of a JSON object."""
    return ",".join(f'"{field}":{n}' for field, n in zip(fields, values, strict=True))


def named_days_lines(midnights: Sequence[int], rows: Sequence[Sequence[int]], iso: Callable[[int], str]) -> Lines:
    """Their CSV rows: each day newest first, its local midnight as a UTC instant, then its counts."""
    return lines_of((iso(midnights[i]), *row) for i, row in reversed(list(enumerate(rows))))


async def daily_answer(sources: Sources, metric: Metric, key: Key, q: RangeQuery, field: str) -> str:
    """The JSON, remembered while the counts (and, for a team, the rooms) stay the same: a long range asked again
    is one lookup, not a day's entry each."""
    rooms = await team_rooms(sources.rooms, q.team)

    async def compute() -> str:
        totals = await daily_totals(sources.counts, metric, q, sources.calendar, rooms)
        return daily_json(*totals, field=field, calendar=sources.calendar)

    return await remembered(sources.counts, metric, key, compute, team_depends(sources, q), q, wait=rooms is None)


async def daily_csv(sources: Sources, metric: Metric, q: RangeQuery) -> Lines:
    rooms = await team_rooms(sources.rooms, q.team)
    return daily_lines(q, *await daily_totals(sources.counts, metric, q, sources.calendar, rooms))

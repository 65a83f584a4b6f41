"""users/posting-users: people posting, as Slack counts them: per day of the range, the distinct authors of the
messages sent that day, with the distinct authors of the 7 and 30 days ending with it; and the period's distinct
authors against the range before."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from engagement_svc.counting.catalog import POSTS
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import named_days_json, named_days_lines
from engagement_svc.reports.queries import TEAM_RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import team_depends, team_rooms
from engagement_svc.reports.sources import RoomSet, Sources
from engagement_svc.reports.windows import MONTH_DAYS, WEEK_DAYS, range_and_before, window_distinct


class Posting(NamedTuple):
    """Oldest day first: each day's local midnight (seconds), its authors, WAU and MAU; the period's authors and
    those of the range before."""

    midnights: list[int]
    days: list[tuple[int, int, int]]
    period: int
    before: int

    @property
    def nbytes(self) -> int:
        """About the memory it holds (what the remembered answers are bounded by)."""
        return 200 + 120 * len(self.days)


async def posting(sources: Sources, q: RangeQuery) -> Posting:
    team = await team_rooms(sources.rooms, q.team)
    depends, wait = team_depends(sources, q), team is None
    return await remembered(
        sources.counts, POSTS, REPORT.key(q, "days"), lambda: _counted(sources, q, team), depends, q, wait
    )


async def _counted(sources: Sources, q: RangeQuery, team: RoomSet) -> Posting:
    """The 29 days before the range are read too: the first day's 30-day window reaches back into them."""
    counted = POSTS.counted_for(q.bots)
    spans = sources.calendar.day_spans(q.zone, q.first_day - timedelta(days=MONTH_DAYS - 1), q.last_day)
    lists = await sources.counts.key_lists(POSTS, spans, counted, team)
    wide = window_distinct(lists, (WEEK_DAYS, MONTH_DAYS))
    in_range, before = range_and_before(q, sources.calendar)
    period, previous = await sources.counts.distinct(POSTS, [in_range, before], counted, team)
    first = MONTH_DAYS - 1
    days = [(len(lists[i]), wide[i][0], wide[i][1]) for i in range(first, len(spans))]
    return Posting([s.lo_s for s in spans[first:]], days, period, previous)


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    async def compute() -> str:
        found = await posting(sources, q)
        days = named_days_json(found.midnights, found.days, ("users", "wau", "mau"), sources.calendar.iso_seconds)
        period = f'{{"count":{found.period},"variation":{found.period - found.before}}}'
        return f'{{"days":[{days}],"period":{period},"success":true}}'

    depends, wait = team_depends(sources, q), q.team is None
    return await remembered(sources.counts, POSTS, REPORT.key(q, "json"), compute, depends, q, wait)


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    """Per day of the range, newest first: its local midnight as a UTC instant, its authors, WAU and MAU."""
    found = await posting(sources, q)
    return named_days_lines(found.midnights, found.days, sources.calendar.iso_seconds)


REPORT = Report(
    path=f"{DASHBOARD}/users/posting-users",
    summary="per day, the distinct users who sent a message, with the 7- and 30-day distinct posters; the period's",
    params=TEAM_RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="posting-users",
    csv_header=("Date", "Posting", "Posting WAU", "Posting MAU"),
)

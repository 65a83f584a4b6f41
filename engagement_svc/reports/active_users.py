"""users/active-users: per day of the range, the distinct users with a session (and their ids), with the distinct
users of the 7 and 30 days ending with it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import cast

from engagement_svc.counting.catalog import ACTIVE_USERS
from engagement_svc.days import iso_seconds
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Body, Report
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import MONTH_DAYS, WEEK_DAYS, window_distinct


class ActiveDay:
    """One day of active users: the day, its users (ids, sorted: the list is kept as given, not copied), and the
    distinct users of the 7 and 30 days ending with it."""

    __slots__ = ("day", "mau", "users", "wau")

    def __init__(self, day: date, users: list[str], wau: int, mau: int):
        self.day, self.users, self.wau, self.mau = day, users, wau, mau

    @property
    def nbytes(self) -> int:
        """About the memory it holds of its own (the ids are the kept days' strings: 8 bytes each)."""
        return 100 + 8 * len(self.users)


def active_users_pieces(days: Sequence[ActiveDay]) -> Iterator[str]:
    """One row per day, newest first, under `month` (Rocket.Chat's name), with `wau` and `mau`: the JSON text
    in pieces, a day at a time (joined, exactly what one `json.dumps` of the whole would write)."""
    yield '{"month":['
    for i, d in enumerate(reversed(days)):
        row = {
            "day": d.day.day,
            "month": d.day.month,
            "year": d.day.year,
            "users": len(d.users),
            "usersList": d.users,
            "wau": d.wau,
            "mau": d.mau,
        }
        yield ("," if i else "") + json.dumps(row, separators=(",", ":"))
    yield '],"success":true}'


def active_users_json(days: Sequence[ActiveDay]) -> str:
    return "".join(active_users_pieces(days))


async def active_days(sources: Sources, q: RangeQuery) -> list[ActiveDay]:
    return await remembered(
        sources.counts, ACTIVE_USERS, REPORT.key(q, "days"), lambda: _active_days_counted(sources, q), q=q
    )


async def _active_days_counted(sources: Sources, q: RangeQuery) -> list[ActiveDay]:
    """Per day of the range: its active users, and the distinct users of the 7 and 30 days ending with it (the
    union of those days' users: a user is active in a window when in one of its days)."""
    counted = ACTIVE_USERS.counted_for(q.bots)
    spans = sources.calendar.day_spans(q.zone, q.first_day - timedelta(days=MONTH_DAYS - 1), q.last_day)
    lists = await sources.counts.key_lists(ACTIVE_USERS, spans, counted)  # every day, filled at once
    wide = window_distinct(lists, (WEEK_DAYS, MONTH_DAYS))
    first = MONTH_DAYS - 1
    return [ActiveDay(q.first_day + timedelta(days=i - first), lists[i], *wide[i]) for i in range(first, len(spans))]


# An answer listing more user ids than this (about 15 MB of JSON: remembered answers take one of up to 16 MB) is
# written day by day, never held whole (a year at 20M messages: 39 MB). A shorter one is made whole and
# remembered, and answered again without being written anew.
STREAMED_IDS = 750_000


async def json_answer(sources: Sources, q: RangeQuery) -> Body:
    """The body is remembered, not its days as well (90 days at 20M messages: 10.6 MB of JSON, 4.5 MB of days):
    a month of `usersList` on a big server is megabytes of JSON. A longer one is never held whole: its days are
    remembered and it is written to the client a day at a time."""
    counts = sources.counts

    async def compute() -> Body:
        stamp = counts.stamp(ACTIVE_USERS)
        # What is kept under the "days" key is only ever a list of ActiveDay (here and in `active_days`).
        kept = cast("list[ActiveDay] | None", counts.remembered(REPORT.key(q, "days"), stamp))
        days = kept or await _active_days_counted(sources, q)
        if sum(len(d.users) for d in days) > STREAMED_IDS:
            counts.remember(REPORT.key(q, "days"), stamp, days)
            return active_users_pieces(days)  # pieces: never remembered
        return active_users_json(days)

    return await remembered(counts, ACTIVE_USERS, REPORT.key(q, "json"), compute, q=q)


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    """Per day of the range, newest first: its local midnight as a UTC instant, DAU, WAU and MAU."""
    found = await active_days(sources, q)
    midnights = [s.lo_s for s in sources.calendar.day_spans(q.zone, q.first_day, q.last_day)]
    rows = [(iso_seconds(midnights[i]), len(d.users), d.wau, d.mau) for i, d in reversed(list(enumerate(found)))]
    return lines_of(rows)


REPORT = Report(
    path=f"{DASHBOARD}/users/active-users",
    summary="per day, the distinct users with a session (and their ids), with the 7- and 30-day distinct users",
    params=RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="active-users",
    csv_header=("Date", "DAU", "WAU", "MAU"),
)

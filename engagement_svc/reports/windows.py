"""The spans of time a report reads besides the range's days: the window of as many days before the range (what
a period's variation is measured against), and the week and month ending with a day (the distinct users of
each)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from engagement_svc.counting.slots import Span, Spans, day_spans, span_of_seconds
from engagement_svc.reports.calendar import Calendar
from engagement_svc.reports.queries import RangeQuery

WEEK_DAYS, MONTH_DAYS = 7, 30


def days_with_before(q: RangeQuery, calendar: Calendar | None = None) -> Spans:
    """The days of the window before the range, then of the range, oldest first (2 x `q.days` spans), from the
    calendar's remembered ones when given."""
    first = q.first_day - timedelta(days=q.days)
    return day_spans(q.zone, first, q.last_day) if calendar is None else calendar.day_spans(q.zone, first, q.last_day)


def range_and_before(q: RangeQuery, calendar: Calendar | None = None) -> tuple[Span, Span]:
    """The range as one span, and the window of as many days before it as one span."""
    spans = days_with_before(q, calendar)
    n = q.days
    return (
        span_of_seconds(spans[n].lo_s, spans[-1].hi_s),
        span_of_seconds(spans[0].lo_s, spans[n - 1].hi_s),
    )


def window_distinct(days: Sequence[Iterable[str]], widths: Sequence[int]) -> list[tuple[int, ...]]:
    """Per day, the distinct ids in each window of `widths` days ending with it (7 and 30: WAU and MAU), in one
    pass: each id's last day is kept, and per width how many ids were last seen before its window. One dict
    lookup per id and day, where a union per window took 300,000 insertions per MAU day (20 s for a year at
    20M messages)."""
    last: dict[str, int] = {}
    on_day = [0] * len(days)  # ids last seen on that day, so far
    before = [0] * len(widths)  # ids last seen before each width's window
    total = 0
    out: list[tuple[int, ...]] = []
    for i, ids in enumerate(days):
        for w, width in enumerate(widths):
            if i - width >= 0:
                before[w] += on_day[i - width]  # that day leaves the window
        for key in ids:
            prev = last.get(key)
            if prev is None:
                total += 1
            elif prev != i:
                on_day[prev] -= 1
                for w, width in enumerate(widths):
                    if prev <= i - width:
                        before[w] -= 1
            else:
                continue
            on_day[i] += 1
            last[key] = i
        out.append(tuple(total - b for b in before))
    return out

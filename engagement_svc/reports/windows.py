"""The spans of time a report reads besides the range's days: the window of as many days before the range (what
a period's variation is measured against), and the week and month ending with a day."""

from __future__ import annotations

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

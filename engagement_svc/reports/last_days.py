"""The last day something happened, as far back as the data goes: a member's last day active or posted, a
room's last day with a message. Per subject, the last day of the range with anything, else the last before it (its
days are closed: what is read of them is remembered)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.slots import Spans
from engagement_svc.days import local_date
from engagement_svc.reports.queries import RangeQuery
from engagement_svc.reports.sources import RoomSet, Sources

NEVER = -(2**63)  # a last day that is null: below every day, as null sorts below every value


async def last_before(
    sources: Sources, q: RangeQuery, metric: Metric, counted: tuple[str, ...], rooms: RoomSet = None
) -> dict[str, int]:
    """Per subject (of these rooms alone, when given), the local midnight of its last day before the range with
    anything, as far back as the metric's oldest document."""
    earliest = await sources.counts.earliest(metric)
    if earliest is None:
        return {}
    first, last = local_date(earliest, q.zone), q.first_day - timedelta(days=1)
    if first > last:
        return {}
    spans = sources.calendar.day_spans(q.zone, first, last)
    _, found = await sources.counts.presence(metric, spans, counted, rooms)
    return {key: spans[i].lo_s for key, i in found.items()}


async def last_days(
    sources: Sources, q: RangeQuery, spans: Spans, metric: Metric, counted: tuple[str, ...] | None = None
) -> tuple[Mapping[str, int], dict[str, int]]:
    """Per subject: its days with anything in the range, and the local midnight of its last such day, in the range
    or before it."""
    counted = counted or metric.counted_for("include")
    days, last = await sources.counts.presence(metric, spans, counted)
    before = await last_before(sources, q, metric, counted)
    return days, {**before, **{key: spans[i].lo_s for key, i in last.items()}}

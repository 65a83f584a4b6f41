"""UTC time slots: the unit every kept count is stored in, and how a zone's days and hours map onto them.

A slot is 15 minutes of UTC. Every offset any IANA zone has used since October 1979 is a multiple of 15 minutes,
so a local day or hour of any zone is a whole run of slots, and counts kept per slot answer every zone without
reading the source again. A local span that does not fall on slot edges (older offsets such as
Pacific/Kiritimati's -10:40 until 1979 or Africa/Monrovia's -0:44:30 until 1972) is reported as such and
counted directly instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from engagement_svc.days import local_midnight

SLOT_SECONDS = 900
SLOT_MS = SLOT_SECONDS * 1000
SLOTS_PER_DAY = 86_400 // SLOT_SECONDS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def slot_of(instant: datetime) -> int:
    """The slot holding this instant (slots are numbered from the Unix epoch, negative before it)."""
    return (instant - EPOCH) // timedelta(seconds=SLOT_SECONDS)


def slot_start(slot: int) -> datetime:
    return EPOCH + timedelta(seconds=slot * SLOT_SECONDS)


def utc_day_of(instant: datetime) -> int:
    """The UTC day holding this instant, as days since 1970-01-01."""
    return slot_of(instant) // SLOTS_PER_DAY


def utc_day_start(day: int) -> datetime:
    return slot_start(day * SLOTS_PER_DAY)


def utc_day_date(day: int) -> date:
    return date.fromordinal(EPOCH_ORDINAL + day)


def aligned_slot(instant: datetime) -> int | None:
    """The slot that starts exactly at this instant, or None if the instant is not on a slot edge."""
    delta = instant - EPOCH
    whole, rest = divmod(delta, timedelta(seconds=SLOT_SECONDS))
    return None if rest else whole


class Span(NamedTuple):
    """A half-open span of time [lo, hi) and, when both edges are slot edges, its slots [first, end)."""

    lo: datetime
    hi: datetime
    first: int | None
    end: int | None

    @property
    def on_slots(self) -> bool:
        return self.first is not None and self.end is not None


def span(lo: datetime, hi: datetime) -> Span:
    return Span(lo, hi, aligned_slot(lo), aligned_slot(hi))


def day_spans(zone: ZoneInfo, first: date, last: date) -> list[Span]:
    """The spans of the local calendar days from `first` to `last`, in order (DST days are 23 or 25 hours)."""
    spans = []
    lo = local_midnight(first, zone)
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        hi = local_midnight(date.fromordinal(ordinal + 1), zone)
        spans.append(span(lo, hi))
        lo = hi
    return spans

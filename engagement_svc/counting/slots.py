"""UTC time slots: the unit every kept count is stored in, and how a zone's days and hours map onto them.

A slot is 15 minutes of UTC. Every offset any IANA zone has used since October 1979 is a multiple of 15 minutes,
so a local day or hour of any zone is a whole run of slots, and counts kept per slot answer every zone without
reading the source again. A local span that does not fall on slot edges (older offsets such as
Pacific/Kiritimati's -10:40 until 1979 or Africa/Monrovia's -0:44:30 until 1972) is reported as such and
counted directly instead.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from engagement_svc.days import EPOCH, EPOCH_ORDINAL, midnight_seconds

SLOT_SECONDS = 900
SLOT_MS = SLOT_SECONDS * 1000
SLOTS_PER_DAY = 86_400 // SLOT_SECONDS


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
    """A half-open span of time [lo, hi), in seconds since the epoch, and, when both edges are slot edges, its
    slots [first, end)."""

    lo_s: int
    hi_s: int
    first: int | None
    end: int | None

    @property
    def on_slots(self) -> bool:
        return self.first is not None and self.end is not None

    @property
    def lo(self) -> datetime:
        return EPOCH + timedelta(seconds=self.lo_s)

    @property
    def hi(self) -> datetime:
        return EPOCH + timedelta(seconds=self.hi_s)


def span_of_seconds(lo_s: int, hi_s: int) -> Span:
    first = None if lo_s % SLOT_SECONDS else lo_s // SLOT_SECONDS
    end = None if hi_s % SLOT_SECONDS else hi_s // SLOT_SECONDS
    return _new_span(Span, (lo_s, hi_s, first, end))  # tuple.__new__: no Python-level Span.__new__ call per span


_new_span = tuple.__new__


def span(lo: datetime, hi: datetime) -> Span:
    whole = timedelta(seconds=1)
    lo_s, lo_rest = divmod(lo - EPOCH, whole)
    hi_s, hi_rest = divmod(hi - EPOCH, whole)
    if lo_rest or hi_rest:  # not even on whole seconds: no slot edge
        return Span(lo_s, hi_s, None, None)
    return span_of_seconds(lo_s, hi_s)


class Spans(tuple[Span, ...]):
    """Spans that know what they are (e.g. the days of a zone from one date to another), so that the answer for
    all of them can be remembered under that name."""

    key: tuple[Hashable, ...]

    def __new__(cls, spans: list[Span], key: tuple[Hashable, ...]) -> Spans:
        self = super().__new__(cls, spans)
        self.key = key
        return self


def day_spans(zone: ZoneInfo, first: date, last: date) -> Spans:
    """The spans of the local calendar days from `first` to `last`, in order (DST days are 23 or 25 hours).
    (reports/calendar.py remembers them.)"""
    ordinal = first.toordinal()
    naive, one_day, offset_of = datetime.fromordinal(ordinal), timedelta(days=1), zone.utcoffset
    midnight = (ordinal - EPOCH_ORDINAL) * 86_400
    spans: list[Span] = []
    lo = midnight_seconds(ordinal, zone)
    lo_slot = None if lo % SLOT_SECONDS else lo // SLOT_SECONDS
    for _ in range(last.toordinal() - ordinal + 1):  # midnight_seconds inlined: no call or division per day
        naive += one_day
        midnight += 86_400
        offset = offset_of(naive)
        hi = midnight - (offset.days * 86_400 + offset.seconds if offset is not None else 0)
        hi_slot = None if hi % SLOT_SECONDS else hi // SLOT_SECONDS
        spans.append(_new_span(Span, (lo, hi, lo_slot, hi_slot)))
        lo, lo_slot = hi, hi_slot
    return Spans(spans, ("days", zone.key, ordinal, last.toordinal()))


def hour_spans(zone: ZoneInfo, first: date, last: date) -> tuple[tuple[Span, ...], ...]:
    """Per local day from `first` to `last` (in order), the spans of its wall-clock hours 0-23. On a DST day the
    skipped hour is an empty span where it would have begun, and a repeated hour covers both of its instants
    (a Lord Howe half-hour change: a half or one and a half hours). Found by reading the zone's hour at every
    slot of the day (at every minute, for a day whose edges are not slot edges: offsets before 1980)."""
    out: list[tuple[Span, ...]] = []
    for day in day_spans(zone, first, last):
        step = SLOT_SECONDS if day.on_slots else 60
        edges: dict[int, list[int]] = {}
        for t in range(day.lo_s, day.hi_s, step):
            hour = datetime.fromtimestamp(t, zone).hour
            found = edges.get(hour)
            if found is None:
                edges[hour] = [t, t + step]
            else:
                found[1] = t + step
        hours: list[Span] = []
        at = day.lo_s
        for hour in range(24):
            lo, hi = edges.get(hour, (at, at))
            hours.append(span_of_seconds(lo, min(hi, day.hi_s)))
            at = max(at, hours[-1].hi_s)
        out.append(tuple(hours))
    return tuple(out)

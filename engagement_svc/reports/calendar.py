"""The calendar reports read: a zone's local days and hours as spans of slots, and the JSON of a day's count,
remembered because a dashboard asks for the same ranges again and a closed day's entry never changes.

One per application (made in resources.py, handed to reports in `Sources`), bounded, its caches in /metrics: no
module keeps such state of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting.slots import Span, Spans, day_spans, hour_spans
from engagement_svc.days import iso_date, iso_seconds

SPAN_RANGES = 1024  # (zone, first day, last day) whose days are remembered
HOUR_RANGES = 256  # and whose hours (24 spans a day)
DAY_ENTRIES = 131_072  # a day's JSON entry (its local midnight and count), about 60 bytes each
ISO_DATES = 65_536  # a UTC day's date as text (every zone's midnights fall on one of two UTC dates)

Hours = tuple[tuple[Span, ...], ...]


def day_entry(midnight_s: int, count: int, field: str, iso: Callable[[int], str] = iso_seconds) -> str:
    """One element of `days`: the day's local midnight (seconds since the epoch) as a UTC instant, and its count."""
    return f'{{"day":"{iso(midnight_s)}","{field}":{count}}}'


class Calendar:
    def __init__(self) -> None:
        self.days: BoundedCache[tuple[ZoneInfo, date, date], Spans] = BoundedCache("day_spans", SPAN_RANGES)
        self.hours: BoundedCache[tuple[ZoneInfo, date, date], Hours] = BoundedCache("hour_spans", HOUR_RANGES)
        self.entries: BoundedCache[tuple[int, int, str], str] = BoundedCache("day_entries", DAY_ENTRIES)
        self.dates: BoundedCache[int, str] = BoundedCache("iso_dates", ISO_DATES)

    def caches(self) -> list[BoundedCache[Any, Any]]:
        return [self.days, self.hours, self.entries, self.dates]

    def day_spans(self, zone: ZoneInfo, first: date, last: date) -> Spans:
        """The local calendar days from `first` to `last` (see `slots.day_spans`)."""
        return _remembered(self.days, (zone, first, last), lambda: day_spans(zone, first, last))

    def hour_spans(self, zone: ZoneInfo, first: date, last: date) -> Hours:
        """Per local day from `first` to `last`, its wall-clock hours 0-23 (see `slots.hour_spans`)."""
        return _remembered(self.hours, (zone, first, last), lambda: hour_spans(zone, first, last))

    def day_entry(self, midnight_s: int, count: int, field: str) -> str:
        """`day_entry`, remembered: a long range is then mostly a join of ready-made strings (zones whose
        midnight is the same instant share them)."""
        return _remembered(
            self.entries,
            (midnight_s, count, field),
            lambda: day_entry(midnight_s, count, field, self.iso_seconds),
        )

    def iso_seconds(self, seconds: int) -> str:
        """`days.iso_seconds`, the date part remembered (shared by every zone: a new zone's year of days is
        mostly dates already written)."""
        return iso_seconds(seconds, lambda days: _remembered(self.dates, days, lambda: iso_date(days)))


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _remembered(cache: BoundedCache[K, V], key: K, make: Callable[[], V]) -> V:
    found = cache.get(key)
    if found is None:
        found = make()
        cache.put(key, found)
    return found

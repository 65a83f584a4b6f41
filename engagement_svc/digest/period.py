"""The periods a digest sums up: `7d` (the 7 whole days ending yesterday in the zone, against the 7 before) and
`30d` likewise; and, for the schedule, the instants a weekly digest falls due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.days import iso_z, local_midnight
from engagement_svc.settings import WEEKDAYS

PERIOD_DAYS = {"7d": 7, "30d": 30}


@dataclass(frozen=True)
class Period:
    """`days` whole local days ending with `last`, and as many before them (what each change is measured against)."""

    name: str  # 7d or 30d
    zone: ZoneInfo
    last: date

    @property
    def days(self) -> int:
        return PERIOD_DAYS[self.name]

    @property
    def first(self) -> date:
        return self.last - timedelta(days=self.days - 1)

    @property
    def previous(self) -> Period:
        return Period(self.name, self.zone, self.first - timedelta(days=1))

    def query(self) -> dict[str, str]:
        """The API's range parameters for these days: the first instant of the first day and of the last one (the
        range is the days holding `start` and `end`), in the zone."""
        return {
            "start": iso_z(local_midnight(self.first, self.zone)),
            "end": iso_z(local_midnight(self.last, self.zone)),
            "timezone": self.zone.key,
        }

    def describe(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()} ({self.zone.key})"


def ending_yesterday(name: str, zone: ZoneInfo, now: datetime) -> Period:
    """The period whose last day is the day before `now`'s, in the zone."""
    return Period(name, zone, now.astimezone(zone).date() - timedelta(days=1))


def _at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The hour's wall-clock time on that day, as UTC (in a DST gap, zoneinfo moves it past the gap)."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def last_due(now: datetime, weekday: str, hour: int, zone: ZoneInfo) -> datetime:
    """The latest instant, at or before `now`, at which the weekly digest fell due (the weekday's hour in the
    zone)."""
    today = now.astimezone(zone).date()
    day = today - timedelta(days=(today.weekday() - WEEKDAYS.index(weekday)) % 7)
    due = _at(day, hour, zone)
    return due if due <= now else _at(day - timedelta(days=7), hour, zone)


def next_due(now: datetime, weekday: str, hour: int, zone: ZoneInfo) -> datetime:
    """The first instant after `now` at which it falls due."""
    day = last_due(now, weekday, hour, zone).astimezone(zone).date() + timedelta(days=7)
    return _at(day, hour, zone)

"""The day clock: which UTC days are closed (counted once and kept) and which are still open (followed live)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from engagement_svc.counting.slots import utc_day_of


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class DayClock:
    """A UTC day is closed once its end plus `grace_seconds` has passed: late writes (a client's clock, a
    replication lag) land before its count is kept. `now` tells the time (a test gives its own)."""

    def __init__(self, grace_seconds: int, now: Callable[[], datetime] = _wall_clock):
        self.grace = timedelta(seconds=grace_seconds)
        self.now = now

    def first_open_day(self, now: datetime | None = None) -> int:
        """The first UTC day whose end plus the grace has not passed: every day before it is closed."""
        return utc_day_of((self.now() if now is None else now) - self.grace)

    def is_closed(self, day: int, now: datetime | None = None) -> bool:
        return day < self.first_open_day(now)

    def today(self, now: datetime | None = None) -> int:
        return utc_day_of(self.now() if now is None else now)

    def open_days(self, now: datetime | None = None) -> list[int]:
        """The days not closed yet, up to today: yesterday during the grace, and today."""
        now = self.now() if now is None else now
        return list(range(self.first_open_day(now), self.today(now) + 1))

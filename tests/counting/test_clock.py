"""The day clock on given times: a UTC day is closed once its end plus the grace has passed."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement_svc.counting.clock import DayClock


def _day(y: int, m: int, d: int) -> int:
    return (datetime(y, m, d, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days


def test_yesterday_stays_open_during_the_grace_then_closes():
    now = [datetime(2024, 3, 10, 0, 59, 59, tzinfo=UTC)]
    clock = DayClock(3600, now=lambda: now[0])
    assert clock.today() == _day(2024, 3, 10)
    assert clock.first_open_day() == _day(2024, 3, 9)
    assert not clock.is_closed(_day(2024, 3, 9)) and clock.is_closed(_day(2024, 3, 8))
    assert clock.open_days() == [_day(2024, 3, 9), _day(2024, 3, 10)]
    now[0] = datetime(2024, 3, 10, 1, 0, 0, tzinfo=UTC)
    assert clock.is_closed(_day(2024, 3, 9)) and clock.open_days() == [_day(2024, 3, 10)]


def test_a_given_time_wins_over_the_clock_and_a_grace_of_days_keeps_days_open():
    clock = DayClock(2 * 86_400 + 1, now=lambda: datetime(2000, 1, 1, tzinfo=UTC))
    at = datetime(2024, 1, 5, 12, tzinfo=UTC)
    assert clock.first_open_day(at) == _day(2024, 1, 3)
    assert clock.open_days(at) == [_day(2024, 1, 3), _day(2024, 1, 4), _day(2024, 1, 5)]
    assert DayClock(0, now=lambda: at).open_days() == [_day(2024, 1, 5)]

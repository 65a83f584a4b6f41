"""The offsets handed to MongoDB equal Python's zone database at every instant, for every zone it knows."""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from engagement_svc.days import local_midnight, offset_changes


def offset_at(first, changes, instant):
    """What the pipeline's $switch computes: the last change at or before the instant, else the first offset."""
    i = bisect_right([c[0] for c in changes], instant)
    return first if i == 0 else changes[i - 1][1]


@pytest.mark.parametrize("name", sorted(available_timezones()))
def test_offsets_match_zoneinfo(name):
    zone, rng = ZoneInfo(name), random.Random(name)
    lo = datetime(rng.randint(1990, 2030), rng.randint(1, 12), 1, tzinfo=UTC) - timedelta(hours=rng.randint(0, 23))
    hi = lo + timedelta(days=rng.randint(1, 1464))
    first, changes = offset_changes(zone, lo, hi)
    for instant, _ in changes:  # each change is pinned to the second
        before, at = instant - timedelta(seconds=1), instant
        assert offset_at(first, changes, before) * 1000 == before.astimezone(zone).utcoffset() / timedelta(
            microseconds=1
        )
        assert offset_at(first, changes, at) * 1000 == at.astimezone(zone).utcoffset() / timedelta(microseconds=1)
    span = (hi - lo).total_seconds()
    for _ in range(200):
        instant = lo + timedelta(seconds=rng.uniform(0, span))
        expected = instant.astimezone(zone).utcoffset() / timedelta(milliseconds=1)
        assert offset_at(first, changes, instant) == expected


@pytest.mark.parametrize(
    "name, day, utc",
    [
        ("Europe/Berlin", date(2024, 3, 31), datetime(2024, 3, 30, 23, tzinfo=UTC)),
        ("Europe/Berlin", date(2024, 4, 1), datetime(2024, 3, 31, 22, tzinfo=UTC)),
        ("America/Sao_Paulo", date(2018, 11, 4), datetime(2018, 11, 4, 3, tzinfo=UTC)),  # midnight skipped: 01:00 -02
        ("America/Havana", date(2023, 11, 5), datetime(2023, 11, 5, 4, tzinfo=UTC)),  # 00:00 happens twice: the first
        ("Asia/Kolkata", date(2024, 1, 1), datetime(2023, 12, 31, 18, 30, tzinfo=UTC)),
        ("Pacific/Apia", date(2011, 12, 31), datetime(2011, 12, 30, 10, tzinfo=UTC)),  # the day after 29 December 2011
    ],
)
def test_local_midnight(name, day, utc):
    assert local_midnight(day, ZoneInfo(name)) == utc

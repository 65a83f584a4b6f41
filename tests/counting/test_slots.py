"""15-minute UTC slots: every zone's local days and hours since 1980 are runs of them (the premise of keeping counts
per slot); spans off the slots are told apart; a zone's hours on DST days."""

from __future__ import annotations

import random
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.counting.slots import aligned_slot, day_spans, hour_spans
from engagement_svc.days import ZONE_NAMES


@pytest.mark.parametrize("name", sorted(set(ZONE_NAMES.values())))
def test_every_local_day_and_hour_since_1980_is_a_run_of_slots(name):
    """The premise of keeping counts per UTC slot: every zone's days and hours start on a slot edge."""
    zone, rng = ZoneInfo(name), random.Random(name)
    days = [date(1980, 1, 1) + timedelta(days=rng.randrange(60 * 365)) for _ in range(60)]
    for day in days:
        (span,) = day_spans(zone, day, day)
        assert span.on_slots, (name, day)
        t = span.lo
        while t < span.hi:  # every wall-clock hour of the day, DST days included
            assert aligned_slot(t) is not None
            t += timedelta(hours=1)


def test_spans_before_1972_that_miss_the_slots_are_flagged():
    (span,) = day_spans(ZoneInfo("Africa/Monrovia"), date(1970, 6, 1), date(1970, 6, 1))  # -0:44:30 then
    assert not span.on_slots and span.hi - span.lo == timedelta(days=1)


@pytest.mark.parametrize(
    "zone, day, lengths",
    [
        ("Europe/Berlin", date(2024, 3, 31), {2: 0, 3: 3600}),  # 02:00-03:00 skipped
        ("Europe/Berlin", date(2024, 10, 27), {2: 7200, 3: 3600}),  # 02:00-03:00 twice
        ("Australia/Lord_Howe", date(2024, 4, 7), {1: 5400}),  # 01:30-02:00 twice: an hour and a half
        ("Asia/Kathmandu", date(2024, 1, 1), {0: 3600, 23: 3600}),
    ],
)
def test_hours_of_a_day_with_a_clock_change(zone, day, lengths):
    """A skipped hour is an empty span; a repeated one covers both of its instants; the 24 hours tile the day."""
    (hours,) = hour_spans(ZoneInfo(zone), day, day)
    (whole,) = day_spans(ZoneInfo(zone), day, day)
    assert len(hours) == 24 and sum(h.hi_s - h.lo_s for h in hours) == whole.hi_s - whole.lo_s
    assert hours[0].lo_s == whole.lo_s and hours[-1].hi_s == whole.hi_s
    for hour, seconds in lengths.items():
        assert hours[hour].hi_s - hours[hour].lo_s == seconds, hour

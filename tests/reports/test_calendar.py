"""The reports' calendar: the same spans and entries as made afresh, asked again from its bounded caches."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from engagement_svc.reports import calendar as calendar_module
from engagement_svc.reports.calendar import Calendar, day_entry


def test_days_and_hours_are_remembered_per_zone_and_range():
    cal = Calendar()
    berlin = ZoneInfo("Europe/Berlin")
    days = cal.day_spans(berlin, date(2024, 3, 30), date(2024, 4, 1))
    assert [s.hi_s - s.lo_s for s in days] == [86_400, 82_800, 86_400]  # 31 March: 23 hours
    assert cal.day_spans(berlin, date(2024, 3, 30), date(2024, 4, 1)) is days
    assert (cal.days.hits, cal.days.misses) == (1, 1)
    other = cal.day_spans(ZoneInfo("Asia/Kathmandu"), date(2024, 3, 30), date(2024, 4, 1))
    assert other[0].lo_s - days[0].lo_s == -(5 * 3600 + 45 * 60) + 3600  # +05:45 against +01:00
    (hours,) = cal.hour_spans(berlin, date(2024, 3, 31), date(2024, 3, 31))
    assert len(hours) == 24 and hours[2].hi_s == hours[2].lo_s
    assert cal.hour_spans(berlin, date(2024, 3, 31), date(2024, 3, 31))[0] is hours


def test_a_day_entry_is_the_json_of_its_midnight_and_count():
    cal = Calendar()
    midnight = 1_711_839_600  # 2024-03-30T23:00:00Z, Berlin's midnight of 31 March
    assert day_entry(midnight, 12, "messages") == '{"day":"2024-03-30T23:00:00.000Z","messages":12}'
    assert cal.day_entry(midnight, 3, "users") == '{"day":"2024-03-30T23:00:00.000Z","users":3}'
    assert cal.day_entry(midnight, 3, "users") == '{"day":"2024-03-30T23:00:00.000Z","users":3}'
    assert cal.entries.hits == 1 and {c.name for c in cal.caches()} == {
        "day_spans",
        "hour_spans",
        "day_entries",
        "iso_dates",
    }


def test_the_caches_are_bounded(monkeypatch):
    monkeypatch.setattr(calendar_module, "SPAN_RANGES", 2)
    cal = Calendar()
    utc = ZoneInfo("UTC")
    for day in range(1, 6):
        cal.day_spans(utc, date(2024, 1, day), date(2024, 1, day))
    assert len(cal.days) == 2 and cal.days.evictions == 3

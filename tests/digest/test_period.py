"""The days a digest sums up, and when the weekly one falls due, in zones with DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from engagement_svc.digest.period import Period, ending_yesterday, last_due, next_due

BERLIN = ZoneInfo("Europe/Berlin")


def test_seven_days_end_yesterday_in_the_zone_and_compare_with_the_seven_before():
    # 23:30 UTC on Sunday 2024-03-31 is already Monday in Berlin: yesterday there is Sunday the 31st.
    p = ending_yesterday("7d", BERLIN, datetime(2024, 3, 31, 23, 30, tzinfo=UTC))
    assert (p.first, p.last, p.days) == (date(2024, 3, 25), date(2024, 3, 31), 7)
    assert (p.previous.first, p.previous.last) == (date(2024, 3, 18), date(2024, 3, 24))
    p = ending_yesterday("7d", ZoneInfo("UTC"), datetime(2024, 3, 31, 23, 30, tzinfo=UTC))
    assert p.last == date(2024, 3, 30)


def test_thirty_days():
    p = ending_yesterday("30d", ZoneInfo("UTC"), datetime(2024, 3, 1, 8, tzinfo=UTC))
    assert (p.first, p.last) == (date(2024, 1, 31), date(2024, 2, 29))
    assert (p.previous.first, p.previous.last) == (date(2024, 1, 1), date(2024, 1, 30))


def test_the_query_names_the_first_instants_of_the_first_and_last_days():
    # Berlin moves to summer time on 2024-03-31: that day starts at 22:00 UTC the day before, the 25th at 23:00.
    q = Period("7d", BERLIN, date(2024, 3, 31)).query()
    assert q == {"start": "2024-03-24T23:00:00.000Z", "end": "2024-03-30T23:00:00.000Z", "timezone": "Europe/Berlin"}


def test_due_on_the_weekday_hour_in_the_zone():
    monday_9 = datetime(2024, 4, 1, 7, tzinfo=UTC)  # 09:00 in Berlin (summer time)
    assert last_due(monday_9, "monday", 9, BERLIN) == monday_9
    assert last_due(datetime(2024, 4, 1, 6, 59, tzinfo=UTC), "monday", 9, BERLIN) == datetime(
        2024, 3, 25, 8, tzinfo=UTC
    )  # a week before, in winter time
    assert next_due(monday_9, "monday", 9, BERLIN) == datetime(2024, 4, 8, 7, tzinfo=UTC)
    assert next_due(datetime(2024, 3, 28, tzinfo=UTC), "friday", 0, BERLIN) == datetime(2024, 3, 28, 23, tzinfo=UTC)


def test_an_hour_that_a_dst_change_skips_is_due_after_the_change():
    # 02:00 does not exist in Berlin on 2024-03-31: the digest falls due at the change (01:00 UTC) or just after.
    due = next_due(datetime(2024, 3, 30, tzinfo=UTC), "sunday", 2, BERLIN)
    assert datetime(2024, 3, 31, 1, tzinfo=UTC) <= due <= datetime(2024, 3, 31, 2, tzinfo=UTC)

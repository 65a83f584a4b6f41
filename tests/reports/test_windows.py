"""The windows a report reads: the range and as many days before it, as local days of the zone (a DST day is 23 or
25 hours), and the week and month lengths."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

from engagement_svc.reports.queries import RANGE
from engagement_svc.reports.windows import MONTH_DAYS, WEEK_DAYS, days_with_before, range_and_before, window_distinct
from engagement_svc.settings import Settings

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")
BERLIN = ZoneInfo("Europe/Berlin")


def local(*fields) -> int:
    return int(datetime(*fields, tzinfo=BERLIN).timestamp())


def test_the_range_and_the_window_before_it_are_local_days():
    # 30 March to 1 April 2024 in Berlin: 31 March is 23 hours long (02:00 -> 03:00)
    q = RANGE.parse(
        {"start": "2024-03-30T10:00:00Z", "end": "2024-04-01T10:00:00Z", "timezone": "Europe/Berlin"}, SETTINGS
    )
    in_range, before = range_and_before(q)
    assert (in_range.lo_s, in_range.hi_s) == (local(2024, 3, 30), local(2024, 4, 2))
    assert (before.lo_s, before.hi_s) == (local(2024, 3, 27), local(2024, 3, 30))
    assert in_range.hi_s - in_range.lo_s == (3 * 24 - 1) * 3600
    days = days_with_before(q)
    assert [d.lo_s for d in days] == [local(2024, 3, day) for day in range(27, 32)] + [local(2024, 4, 1)]
    assert days[-1].hi_s == local(2024, 4, 2)
    assert [d.hi_s - d.lo_s for d in days] == [86_400] * 4 + [82_800, 86_400]


def test_a_week_and_a_month():
    assert (WEEK_DAYS, MONTH_DAYS) == (7, 30)


def test_window_distinct_equals_the_union_of_each_window():
    """The one-pass WAU/MAU count equals len(union) of every window, ids coming back after any gap."""
    rng = random.Random(3)
    days = [sorted({f"u{rng.randrange(60)}" for _ in range(rng.randrange(0, 25))}) for _ in range(90)]
    days[40] = []  # an empty day
    found = window_distinct(days, (1, 7, 30))
    for i in range(len(days)):
        expected = tuple(len(set().union(*days[max(0, i - w + 1) : i + 1])) for w in (1, 7, 30))
        assert found[i] == expected, i

"""A remembered answer is computed once while the counts stay the same, again once they change, and every time
when the engine cannot tell (no stamp)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from engagement_svc.counting.catalog import ACTIVE_USERS, MESSAGES
from engagement_svc.reports.queries import RangeQuery
from engagement_svc.reports.remembered import followed, reaches_open, remembered
from tests.support.fake_sources import FakeCounts


class Unstamped(FakeCounts):
    def stamp(self, metric, open_days=True):
        return None


async def test_computed_once_while_the_counts_stay_the_same():
    counts, made = FakeCounts({}), []

    async def compute():
        made.append(1)
        return [len(made)]

    assert await remembered(counts, MESSAGES, ("k",), compute) == [1]
    assert await remembered(counts, MESSAGES, ("k",), compute) == [1]
    assert await remembered(counts, MESSAGES, ("other",), compute) == [2]
    counts.change()
    assert await remembered(counts, MESSAGES, ("k",), compute) == [3]
    # another metric's stamp: not the answer remembered at the messages' stamp
    assert await remembered(counts, ACTIVE_USERS, ("k",), compute) == [4]


async def test_computed_every_time_without_a_stamp():
    counts, made = Unstamped({}), []

    async def compute():
        made.append(1)
        return [len(made)]

    assert [await remembered(counts, MESSAGES, ("k",), compute) for _ in range(3)] == [[1], [2], [3]]


class Unfollowed(FakeCounts):
    """No stamp until `follow` is called; the open days begin on 2024-03-10 (UTC)."""

    def __init__(self):
        super().__init__({})
        self.follows = 0

    def stamp(self, metric, open_days=True):
        return (*super().stamp(metric), open_days) if self.follows or not open_days else None

    async def follow(self, metric, wait=True):
        self.follows += 1
        return self.stamp(metric)

    def open_edge(self, metric):
        return int(datetime(2024, 3, 10, tzinfo=UTC).timestamp()), ("edge",)


def query(last: date, zone: str = "UTC") -> RangeQuery:
    instant = datetime(last.year, last.month, last.day, 12, tzinfo=UTC)
    return RangeQuery(instant, instant, ZoneInfo(zone), date(2024, 3, 1), last)


def test_a_range_reaches_the_open_days_when_its_last_local_day_ends_after_they_begin():
    counts = Unfollowed()
    assert reaches_open(counts, MESSAGES, query(date(2024, 3, 10)))
    assert not reaches_open(counts, MESSAGES, query(date(2024, 3, 9)))
    # 2024-03-09 in Kiritimati (+14) ends at 10:00 UTC on the 9th; in Honolulu (-10), at 10:00 UTC on the 10th
    assert not reaches_open(counts, MESSAGES, query(date(2024, 3, 9), "Pacific/Kiritimati"))
    assert reaches_open(counts, MESSAGES, query(date(2024, 3, 9), "Pacific/Honolulu"))


async def test_open_days_followed_first_when_the_range_reaches_them_so_the_first_answer_is_kept():
    """A range that reaches the open days has them followed before it reads; one before them is stamped by the
    closed days alone. Either way the first answer is kept."""
    counts, made = Unfollowed(), []

    async def compute():
        made.append(1)
        return [len(made)]

    before = query(date(2024, 3, 9))
    # a range before the open days reads none: nothing to follow, its answer kept while the closed days stay
    assert [await remembered(counts, MESSAGES, ("old",), compute, q=before) for _ in range(2)] == [[1], [1]]
    assert counts.follows == 0
    assert await followed(counts, MESSAGES, before) == counts.stamp(MESSAGES, False)
    reaching = query(date(2024, 3, 10))
    assert [await remembered(counts, MESSAGES, ("new",), compute, q=reaching) for _ in range(2)] == [[2], [2]]
    assert counts.follows == 1
    assert await followed(counts, MESSAGES, reaching) == counts.stamp(MESSAGES)
    assert counts.follows == 1  # followed already: no second time
    counts.change()  # the closed days changed: both answers are made again
    assert await remembered(counts, MESSAGES, ("old",), compute, q=before) == [3]
    assert await remembered(counts, MESSAGES, ("new",), compute, q=reaching) == [4]

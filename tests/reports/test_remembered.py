"""A remembered answer is computed once while the counts stay the same, again once they change, and every time
when the engine cannot tell (no stamp)."""

from __future__ import annotations

from engagement_svc.counting.catalog import ACTIVE_USERS, MESSAGES
from engagement_svc.reports.remembered import remembered
from tests.support.fake_sources import FakeCounts


class Unstamped(FakeCounts):
    def stamp(self, metric):
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

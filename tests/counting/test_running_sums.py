"""Running sums over kept closed days, on made-up days: a run of slots inside kept days equals a recount of its
cells; a run touching a day not kept, the open day or off the slots is left to the reader."""

from __future__ import annotations

import random
from typing import Any, cast

from engagement_svc.counting.classes import EveryKey
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.counting.running_sums import RunningSums

FLAG = "\x1f"
SLOTS = 96


def _cells(rng: random.Random, keys: list[str], n: int) -> dict[tuple[str, int], int]:
    """Any key may be flagged (a bot's); counts of 1 to 3."""
    cells: dict[tuple[str, int], int] = {}
    for _ in range(n):
        key = rng.choice(keys) + (FLAG + "bot" if rng.random() < 0.1 else "")
        slot = rng.randrange(SLOTS)
        cells[(key, slot)] = cells.get((key, slot), 0) + rng.randrange(1, 4)
    return cells


def test_running_sums_answer_runs_in_kept_days_and_leave_the_others():
    rng = random.Random(4)
    classes = EveryKey("user")
    days = {d: ClosedDay.of_cells(d, _cells(rng, ["a", "b", "c"], 50), 50) for d in (100, 101, 103)}  # 102 missing
    running = RunningSums((0, 0), days, classes, ("user",))
    spans = [
        (0, 0, 100 * SLOTS + 5, 101 * SLOTS + 7),  # two kept days
        (0, 0, 101 * SLOTS + 3, 101 * SLOTS + 4),  # one slot
        (0, 0, 101 * SLOTS, 103 * SLOTS + 1),  # across the missing day: left
        (0, 0, 103 * SLOTS, 104 * SLOTS + 1),  # past the open slot: left
        (0, 0, None, None),  # not a run of slots: left
    ]
    results: list[Any] = [None] * len(spans)
    running.answer(cast(Any, spans), results, open_slot=104 * SLOTS)
    cells = {(d * SLOTS + s, k): n for d, day in days.items() for (k, s), n in day.cells().items()}

    def recount(first: int, end: int) -> int:
        return sum(n for (slot, k), n in cells.items() if first <= slot < end and FLAG not in k)

    assert results[:2] == [recount(100 * SLOTS + 5, 101 * SLOTS + 7), recount(101 * SLOTS + 3, 101 * SLOTS + 4)]
    assert results[2:] == [None, None, None]


def test_running_sums_over_many_kept_days_equal_a_recount():
    rng = random.Random(8)
    classes = EveryKey("user")
    days = {d: ClosedDay.of_cells(d, _cells(rng, ["a", "b", "c"], 80), 80) for d in range(200, 210)}
    running = RunningSums((0, 0), days, classes, ("user",))
    cells = {(d * SLOTS + s, k): n for d, day in days.items() for (k, s), n in day.cells().items()}
    spans = [
        (0, 0, 200 * SLOTS + 5, 209 * SLOTS + 7),
        (0, 0, 201 * SLOTS, 205 * SLOTS),  # whole days
        (0, 0, 202 * SLOTS + 95, 203 * SLOTS + 1),
        (0, 0, 200 * SLOTS, 210 * SLOTS),  # every kept day
    ]
    results: list[Any] = [None] * len(spans)
    running.answer(cast(Any, spans), results, open_slot=210 * SLOTS)
    expected = [
        sum(n for (slot, k), n in cells.items() if first <= slot < end and FLAG not in k) for _, _, first, end in spans
    ]
    assert results == expected

"""Closed days built straight from the counting pipeline's arrays (in MongoDB's order, not sorted) equal the
(key, slot) cells the arrays describe, read here one entry at a time."""

from __future__ import annotations

import random

from engagement_svc.counting.counter import RUN_BASE, built_day
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.counting.slots import SLOTS_PER_DAY

DAY = 20_000
BASE = DAY * SLOTS_PER_DAY


def _same(a: ClosedDay, b: ClosedDay) -> None:
    assert a.cells() == b.cells()
    assert (a.raw, list(a.keys)) == (b.raw, sorted(b.keys))


def _cells(doc: dict) -> dict[tuple[str, int], int]:
    """What the pipeline's document says, entry by entry: a count per (room, slot), or a user present in every
    slot of the day one of their runs covers; entries without a string key count nowhere."""
    cells: dict[tuple[str, int], int] = {}
    if "v" in doc:
        for key, runs in zip(doc["k"], doc["v"], strict=True):
            for v in runs:
                for slot in range(v // RUN_BASE, v % RUN_BASE):
                    cells[(key, slot)] = 1
    else:
        for key, slot, n in zip(doc["k"], doc["s"], doc["n"], strict=True):
            if n and isinstance(key, str):
                cells[(key, slot - BASE)] = n
    return cells


def _messages_doc(rng: random.Random, ordered: bool) -> dict:
    cells = sorted({(f"r{rng.randrange(40)}", rng.randrange(SLOTS_PER_DAY)) for _ in range(300)})
    rows = [(k, BASE + s, rng.choice([0, 1, 2, 300])) for k, s in cells] + [(None, BASE, 5)]
    if not ordered:
        rng.shuffle(rows)
    return {"_id": DAY, "k": [r[0] for r in rows], "s": [r[1] for r in rows], "n": [r[2] for r in rows], "raw": 999}


def _sessions_doc(rng: random.Random, ordered: bool) -> dict:
    keys = sorted({f"u{rng.randrange(60)}" for _ in range(50)})
    if not ordered:
        rng.shuffle(keys)
    packed = []
    for _ in keys:  # runs within the day, overlapping or not, the whole day included
        runs = [sorted(rng.sample(range(SLOTS_PER_DAY + 1), 2)) for _ in range(rng.randrange(1, 4))]
        packed.append([a * RUN_BASE + b for a, b in [*runs, *([(0, SLOTS_PER_DAY)] if rng.random() < 0.1 else [])]])
    return {"_id": DAY, "k": keys, "v": packed, "raw": 0}


def test_days_built_from_arrays_equal_days_built_from_cells() -> None:
    rng = random.Random(7)
    for make in (_messages_doc, _sessions_doc):
        for ordered in (True, False, True):
            doc = make(rng, ordered)
            built = built_day(DAY, doc)
            _same(built, ClosedDay(DAY, _cells(doc), doc["raw"]))
            assert built.keys


def test_a_day_of_presence_holds_no_counts_of_its_own():
    """Every count of a day of sessions is 1: the day shares one run of ones (no memory of its own), and reads,
    sums and its size say so; a day of messages keeps its counts, as bytes when they fit."""
    rng = random.Random(11)
    presence = built_day(DAY, _sessions_doc(rng, True))
    assert isinstance(presence.counts, memoryview) and set(presence.counts) == {1}
    assert presence.nbytes() == 8 * len(presence.keys) + len(presence.slots) + 4 * len(presence.starts)
    assert sum(presence.key_totals().values()) == len(presence.slots) == len(presence.cells())
    messages = built_day(DAY, _messages_doc(rng, True))
    assert not isinstance(messages.counts, memoryview) and messages.counts.typecode == "I"  # a count of 300

"""Counting pipeline results written by hand, as MongoDB hands them to `counter.built_day`: a day of messages
(counts per room and slot, in any order) and a day of sessions (each user's runs of slots, packed)."""

from __future__ import annotations

import random

SLOTS_PER_DAY = 96  # 15-minute slots
RUN_BASE = 128  # a run of slots [a, b) within a day is packed as a * RUN_BASE + b (see counter.RUN_BASE)
DAY = 20_000
BASE = DAY * SLOTS_PER_DAY


def messages_doc(rng: random.Random, ordered: bool) -> dict:
    cells = sorted({(f"r{rng.randrange(40)}", rng.randrange(SLOTS_PER_DAY)) for _ in range(300)})
    rows = [(k, BASE + s, rng.choice([0, 1, 2, 300])) for k, s in cells] + [(None, BASE, 5)]
    if not ordered:
        rng.shuffle(rows)
    return {"_id": DAY, "k": [r[0] for r in rows], "s": [r[1] for r in rows], "n": [r[2] for r in rows], "raw": 999}


def sessions_doc(rng: random.Random, ordered: bool) -> dict:
    keys = sorted({f"u{rng.randrange(60)}" for _ in range(50)})
    if not ordered:
        rng.shuffle(keys)
    packed = []
    for _ in keys:  # runs within the day, overlapping or not, the whole day included
        runs = [sorted(rng.sample(range(SLOTS_PER_DAY + 1), 2)) for _ in range(rng.randrange(1, 4))]
        packed.append([a * RUN_BASE + b for a, b in [*runs, *([(0, SLOTS_PER_DAY)] if rng.random() < 0.1 else [])]])
    return {"_id": DAY, "k": keys, "v": packed, "raw": 0}

"""Closed days built straight from the counting pipeline's arrays (in MongoDB's order, not sorted) equal the
(key, slot) cells the arrays describe, read here one entry at a time."""

from __future__ import annotations

import random

from engagement_svc.counting.catalog import ACTIVE_USERS, MESSAGES, NEW_USERS
from engagement_svc.counting.counter import RUN_BASE, built_day
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.rocketchat.rooms import FLAG
from tests.support.pipeline_docs import BASE, DAY, messages_doc, sessions_doc


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


def test_days_built_from_arrays_equal_days_built_from_cells() -> None:
    rng = random.Random(7)
    for make in (messages_doc, sessions_doc):
        for ordered in (True, False, True):
            doc = make(rng, ordered)
            built = built_day(DAY, doc)
            _same(built, ClosedDay(DAY, _cells(doc), doc["raw"]))
            assert built.keys


def test_a_key_flag_applied_in_python_gives_the_keys_mongodb_would_have_flagged() -> None:
    """Sessions are grouped by their plain user id and a bot's id flagged when the day is built
    (`Metric.flag_param`): the day equals the one whose keys the pipeline had flagged itself, in key order."""
    assert (ACTIVE_USERS.flag_param, MESSAGES.flag_param, NEW_USERS.flag_param) == ("bots", None, None)
    rng = random.Random(3)
    doc = sessions_doc(rng, False)
    bots = frozenset(rng.sample(sorted(doc["k"]), 7)) | {"not-counted"}
    params = {"bots": bots}
    flag = ACTIVE_USERS.key_flagger(params)
    assert flag is not None and MESSAGES.key_flagger(params) is None
    for key in doc["k"]:
        assert flag(key) == ACTIVE_USERS.key_of({"userId": key}, params)
    by_mongodb = {**doc, "k": [ACTIVE_USERS.key_of({"userId": key}, params) for key in doc["k"]]}
    built = built_day(DAY, doc, flag)
    _same(built, ClosedDay(DAY, _cells(by_mongodb), 0))
    assert list(built.keys) == sorted(built.keys) and sum(FLAG in key for key in built.keys) == 7

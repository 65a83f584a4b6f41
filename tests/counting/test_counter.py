"""Closed days built straight from the counting pipeline's arrays (in MongoDB's order, not sorted) equal the
(key, slot) cells the arrays describe, read here one entry at a time."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import bson
from pymongo import AsyncMongoClient

from engagement_svc.counting import rules
from engagement_svc.counting.catalog import ACTIVE_USERS, CLIENT_SESSIONS, MESSAGES, NEW_USERS, PART, POSTS
from engagement_svc.counting.counter import RUN_BASE, built_day, by_day, count_days, count_span
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


def test_a_key_decoded_in_many_slots_and_batches_is_kept_as_one_string() -> None:
    """Slot documents as MongoDB sends them (BSON, decoded in batches): per day, every (key, slot) counted, and a
    key that many slots name is the same string object in all of them, so that the copies each slot decoded die
    with it (see `by_day`)."""
    rng = random.Random(11)
    keys = [f"room{i:03d}\x1euser{i % 7}" for i in range(50)]
    docs = []
    for slot in range(BASE - 96, BASE + 96):  # two days
        names = [rng.choice(keys) for _ in range(rng.randrange(0, 30))] + [None]
        docs.append({"_id": slot, "k": names, "all": len(names) + 1})
    into: dict = {}
    shared: dict = {}
    for half in (docs[:100], docs[100:]):  # two batches, a day across both
        by_day(bson.decode_iter(b"".join(bson.encode(doc) for doc in half)), into, shared)
    for day, got in into.items():
        expected = Counter(
            (key, slot) for doc in docs if doc["_id"] // 96 == day for key in doc["k"] for slot in [doc["_id"]]
        )
        assert Counter({(k, s): n for k, s, n in zip(got["k"], got["s"], got["n"], strict=True)}) == expected
        assert got["raw"] == sum(doc["all"] for doc in docs if doc["_id"] // 96 == day)
    kept = [key for got in into.values() for key in got["k"] if key is not None]
    assert len(kept) > len(set(kept)) > 40
    assert len({id(key) for key in kept}) == len(set(kept))


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


async def test_compound_keys_counted_by_mongodb_equal_the_keys_python_gives(settings, db) -> None:
    """A message's room and author, a session's user and client (every device type, none, a non-text one), each
    flagged as a bot's or not, made by the aggregation (a closed day's count, and an exact span's) equal `key_of`
    of the same documents; a document without one of the parts counts nowhere."""
    day = datetime(2024, 3, 10, tzinfo=UTC)
    messages = []
    for i, (rid, author, extra) in enumerate(
        [
            ("R1", "ada", {}),
            ("R1", "ada", {"bot": {"i": "hook"}}),
            ("R2", "bot.one", {}),
            ("R2", None, {}),  # no author
            (None, "ada", {}),  # no room
            ("R3", 5, {}),  # an author id that is not text
            ("R3", "eve", {"t": "uj"}),  # not a message sent
        ]
    ):
        doc = {"_id": f"m{i}", "ts": day + timedelta(minutes=7 * i), "msg": "x", **extra}
        if rid is not None:
            doc["rid"] = rid
        doc["u"] = {} if author is None else {"_id": author}
        messages.append(doc)
    devices = [{"type": t} for t in ("browser", "mobile", "tablet", "desktop-app", "mobile-app", "other", "")]
    devices += [{"type": 3}, {}, None]
    sessions = []
    for i, device in enumerate(devices):
        user = "bot.one" if i % 4 == 0 else f"user{i}"
        doc = {
            "_id": f"s{i}",
            "type": "session",
            "userId": user,
            "mostImportantRole": "user",
            "loginAt": day + timedelta(minutes=10 * i),
            "createdAt": day + timedelta(minutes=10 * i),
            "closedAt": day + timedelta(minutes=10 * i + 20),
        }
        if device is not None:
            doc["device"] = device
        sessions.append(doc)
    db.rocketchat_message.insert_many(messages)
    db.rocketchat_sessions.insert_many(sessions)
    params = {"bots": frozenset({"bot.one"})}
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        source = client[settings.database]
        utc_day = (day - datetime(1970, 1, 1, tzinfo=UTC)).days
        for metric, docs in ((POSTS, messages), (CLIENT_SESSIONS, sessions)):
            expected: dict[str, int] = {}
            for doc in docs:
                key = metric.key_of(doc, params)
                if key is not None and rules.matches(metric.rule, doc, params):
                    expected[key] = 1 if metric.is_interval else expected.get(key, 0) + 1
            kept = (await count_days(source, metric, [utc_day], params))[utc_day]
            assert set(kept.keys) == set(expected)
            if not metric.is_interval:
                assert {k: sum(n for (key, _), n in kept.cells().items() if key == k) for k in kept.keys} == expected
            spanned = await count_span(source, metric, day, day + timedelta(days=1), params)
            assert spanned == expected
            wanted = {"R1" + PART + "ada", "R1" + PART + "ada" + FLAG + "bot", "R2" + PART + "bot.one" + FLAG + "bot"}
            assert metric is not POSTS or set(expected) == wanted
            assert metric is POSTS or len(expected) == len(devices)
    finally:
        await client.close()

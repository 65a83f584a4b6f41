"""Partial days over a real mongod: one aggregation counts a room's days for every metric of its messages, what it
counted is remembered until the metric's version changes, and it equals the room's keys in whole days."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pymongo import AsyncMongoClient

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting.catalog import CATALOG, FLAG, MESSAGES, PART, POSTS, Metric
from engagement_svc.counting.counter import count_days
from engagement_svc.counting.partial_days import PartialDays, count_rooms

FIRST = datetime(2024, 9, 1, tzinfo=UTC)
DAY0 = (FIRST - datetime(1970, 1, 1, tzinfo=UTC)).days


class _Source:
    def __init__(self, db: Any):
        self.db, self.params = db, {"bots": frozenset()}

    async def id(self) -> str:
        return "source"


def _messages(db) -> None:
    db.rocketchat_message.insert_many(
        {
            "_id": f"m{i}",
            "rid": f"R{i % 3}",
            "ts": FIRST + timedelta(minutes=13 * i),  # the first two days
            "msg": "x",
            "u": {"_id": f"u{i % 5}"},
        }
        for i in range(200)
    )


async def test_one_aggregation_for_both_metrics_remembered_until_their_version_changes(settings, db) -> None:
    _messages(db)
    versions = {MESSAGES.name: 0, POSTS.name: 0}
    cache: BoundedCache[tuple[Any, ...], object] = BoundedCache("reading", 1_000, 2**20)
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    stats = {"partial_days": 0}
    try:
        source = client[settings.database]
        partial = PartialDays(cast(Any, _Source(source)), cache, lambda m: versions[m.name], CATALOG, stats)
        assert partial.siblings(POSTS) == [MESSAGES, POSTS]
        room, days = frozenset({"R1"}), [DAY0, DAY0 + 1, DAY0 + 3]
        db.command("profile", 2)
        try:
            posts = await partial.of(POSTS, room, days)
            messages = await partial.of(MESSAGES, room, days)  # counted by the same aggregation
            again = await partial.of(POSTS, room, days)
        finally:
            db.command("profile", 0)
        assert db.system.profile.count_documents({"command.aggregate": "rocketchat_message"}) == 1
        assert stats["partial_days"] == 3 and again == posts
        for metric, found in ((MESSAGES, messages), (POSTS, posts)):
            whole = await count_days(source, metric, days)
            for day in days:
                in_room = {c: n for c, n in whole[day].cells().items() if c[0].startswith("R1")}
                assert found[day].cells() == in_room and (day == DAY0 + 3) == (not in_room)
        versions[POSTS.name] += 1  # its kept days changed: what was remembered of them is not used
        await partial.of(POSTS, room, days[:1])
        await partial.of(MESSAGES, room, days[:1])
        assert stats["partial_days"] == 4
    finally:
        await client.close()


async def test_days_counted_as_they_are_now_are_kept_nowhere(settings, db) -> None:
    """`now` (open days not followed yet): the room's days as they are at each call, a message added in between
    seen by the next, and nothing left in the cache for a later read to take."""
    _messages(db)
    cache: BoundedCache[tuple[Any, ...], object] = BoundedCache("reading", 1_000, 2**20)
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    stats = {"partial_days": 0}
    try:
        source = client[settings.database]
        partial = PartialDays(cast(Any, _Source(source)), cache, lambda m: 0, CATALOG, stats)
        room, days = frozenset({"R1"}), [DAY0, DAY0 + 1]
        first = await partial.now(MESSAGES, room, days)
        db.rocketchat_message.insert_one({"_id": "late", "rid": "R1", "ts": FIRST, "msg": "x", "u": {"_id": "u9"}})
        second = await partial.now(MESSAGES, room, days)
        whole = await count_days(source, MESSAGES, days)
        for day in days:
            assert second[day].cells() == {c: n for c, n in whole[day].cells().items() if c[0] == "R1"}
        assert second[DAY0].key_totals()["R1"] == first[DAY0].key_totals()["R1"] + 1
        assert stats["partial_days"] == 4 and len(cache) == 0
    finally:
        await client.close()


def test_a_metric_of_other_documents_is_counted_alone() -> None:
    partial = PartialDays(cast(Any, None), BoundedCache("reading", 10), lambda m: 0, CATALOG, {})
    lone: Metric = CATALOG["new_users"]
    assert partial.siblings(lone) == [lone]
    assert partial.siblings(MESSAGES) == [MESSAGES, POSTS]


async def test_a_few_rooms_counted_alone_equal_their_keys_in_whole_days(settings, db) -> None:
    """`count_rooms` for some rooms and days (not all in a run) gives, per metric and day, exactly the cells of
    those rooms' keys in the whole day's count (messages and posts, bots' flagged); a day asked without any of
    their messages is an empty day, and days not asked are not read."""
    rng = random.Random(7)
    first = datetime(2024, 5, 1, tzinfo=UTC)
    rooms, authors = ["R1", "R2", "R3", "R4"], ["ada", "bob", "bot.one", None]
    docs = []
    for i in range(600):
        doc = {
            "_id": f"m{i}",
            "rid": rng.choice(rooms),
            "ts": first + timedelta(seconds=rng.randrange(5 * 86_400)),
            "msg": "x",
            "u": {"_id": rng.choice(authors)},
        }
        if i % 17 == 0:
            doc["t"] = "uj"  # not a message sent
        if i % 13 == 0:
            doc["bot"] = {"i": "hook"}
        docs.append(doc)
    docs = [d for d in docs if not (d["rid"] in ("R1", "R3") and d["ts"] >= first + timedelta(days=4))]
    db.rocketchat_message.insert_many(docs)
    params = {"bots": frozenset({"bot.one"})}
    day0 = (first - datetime(1970, 1, 1, tzinfo=UTC)).days
    asked, chosen = [day0, day0 + 2, day0 + 4], frozenset({"R1", "R3"})
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        source = client[settings.database]
        partial = await count_rooms(source, [MESSAGES, POSTS], chosen, asked, params)
        for metric in (MESSAGES, POSTS):
            assert sorted(partial[metric.name]) == asked
            whole = await count_days(source, metric, asked, params)
            for day in asked:
                expected = {c: n for c, n in whole[day].cells().items() if c[0].split(FLAG)[0].split(PART)[0] in chosen}
                assert partial[metric.name][day].cells() == expected
                assert bool(expected) == (day != day0 + 4)
        assert any(FLAG in key for key in partial[POSTS.name][day0].keys)
    finally:
        await client.close()

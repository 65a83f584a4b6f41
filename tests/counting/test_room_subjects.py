"""Per room, its different authors over a span, by one aggregation, against the authors of the same messages as
whole days count them: for every bots choice (a bot's message by the `bot` field or by a bot user), rooms of every
type (l does not count, a room gone counts nowhere), messages without an author or not sent; the sets of some rooms
alike; a closed span's counts remembered until the version changes, a span reaching the open days read afresh."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pymongo import AsyncMongoClient

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting.catalog import FLAG, PART, POSTS
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.counter import count_days
from engagement_svc.counting.room_subjects import RoomSubjects
from engagement_svc.counting.slots import span_of_seconds

FIRST = datetime(2024, 4, 1, tzinfo=UTC)
NOW = FIRST + timedelta(days=6, hours=3)
TYPES = {"C1": "c", "C2": "c", "P1": "p", "D1": "d", "L1": "l"}  # "GONE" has no room


class _Rooms:
    generation = 0

    def kind(self, key: str) -> str | None:
        rid, _, flag = key.partition(FLAG)
        kind = TYPES.get(rid.split(PART, 1)[0])
        return None if kind is None else kind + (FLAG + flag if flag else "")

    def knows(self, key: str) -> bool:
        return True

    async def ensure(self, keys: Iterable[str]) -> None:
        return None


class _Source:
    def __init__(self, db: Any):
        self.db, self.params = db, {"bots": frozenset({"bot.one"})}

    async def id(self) -> str:
        return "source"


def _messages(db) -> None:
    rng = random.Random(11)
    docs = []
    for i in range(1_500):
        doc: dict[str, Any] = {
            "_id": f"m{i}",
            "rid": rng.choice([*TYPES, "GONE"]),
            "ts": FIRST + timedelta(seconds=rng.randrange(7 * 86_400)),
            "msg": "x",
            "u": {"_id": rng.choice(["ada", "bob", "eve", "bot.one", f"once{i}"])},
        }
        if i % 11 == 0:
            doc["bot"] = {"i": "hook"}
        if i % 29 == 0:
            doc["t"] = "uj"
        if i % 31 == 0:
            doc["u"] = {}
        docs.append(doc)
    db.rocketchat_message.insert_many(docs)


async def _expected(source, span, counted) -> dict[str, set[str]]:
    """Per room, the authors of its keys that count, from whole days counted as kept days are."""
    days = list(range(span.lo_s // 86_400, (span.hi_s - 1) // 86_400 + 1))
    found: dict[str, set[str]] = {}
    rooms = _Rooms()
    for day in (await count_days(source, POSTS, days, {"bots": frozenset({"bot.one"})})).values():
        for (key, slot), n in day.cells().items():
            if n and span.lo_s <= (day.day * 96 + slot) * 900 < span.hi_s and rooms.kind(key) in counted:
                rid, author = key.split(FLAG)[0].split(PART, 1)
                found.setdefault(rid, set()).add(author)
    return found


async def test_counts_and_sets_equal_the_authors_of_whole_days_for_every_bots_choice(settings, db) -> None:
    _messages(db)
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        source = client[settings.database]
        cache: BoundedCache[tuple[Any, ...], object] = BoundedCache("reading", 1_000, 2**20)
        version = [0]
        subjects = RoomSubjects(
            cast(Any, _Source(source)), DayClock(0, now=lambda: NOW), cache, lambda m: version[0], lambda m: _Rooms()
        )
        lo = int((FIRST - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
        spans = [span_of_seconds(lo + 3_600, lo + 5 * 86_400 - 900), span_of_seconds(lo, lo + 7 * 86_400)]
        for span in spans:
            for bots in ("include", "exclude", "only"):
                counted = POSTS.counted_for(bots)
                expected = await _expected(source, span, counted)
                assert await subjects.counts(POSTS, span, counted) == {r: len(a) for r, a in expected.items()}
                some = frozenset({"C1", "D1", "L1", "GONE"})
                found = await subjects.sets(POSTS, span, counted, some)
                assert found == {rid: frozenset(expected.get(rid, ())) for rid in some}
                assert found["C1"] and not found["L1"] and not found["GONE"]
                scoped = await subjects.counts(POSTS, span, counted, some)
                assert scoped == {r: len(a) for r, a in expected.items() if r in some}
                few = frozenset({"ada", "bot.one", "nobody"})
                assert await subjects.sets(POSTS, span, counted, some, few) == {r: a & few for r, a in found.items()}
        db.command("profile", 2)
        try:
            await subjects.counts(POSTS, spans[0], POSTS.counted_for("include"))  # closed: remembered
            await subjects.counts(POSTS, spans[1], POSTS.counted_for("include"))  # reaches today: read again
            version[0] += 1
            await subjects.counts(POSTS, spans[0], POSTS.counted_for("include"))  # changed since: read again
        finally:
            db.command("profile", 0)
        assert db.system.profile.count_documents({"command.aggregate": "rocketchat_message"}) == 2
    finally:
        await client.close()

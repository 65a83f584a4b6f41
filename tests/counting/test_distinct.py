"""The same kept slots answer "how many different users": distinct keys per local day, in any zone, closed days
and open ones, equal to a brute-force recount.

The metric here (who sent a message) is defined by the test itself: the engine counts whatever the catalog it is
given holds, and the users tab's metrics build on this."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient

from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.engine import Engine
from engagement_svc.counting.slots import day_spans
from engagement_svc.rocketchat.changes import ChangeStreams
from engagement_svc.rocketchat.documents import MESSAGE_SENT
from tests.support.http import until
from tests.support.rocketchat import message_doc, room_doc

SENDERS = Metric("senders", "rocketchat_message", "ts", "u._id", MESSAGE_SENT, keys="users", counted=("user",))


def senders_by_day(db, zone: ZoneInfo) -> dict:
    """Who sent a message (no `t`, not `_hidden`), per local day: read document by document."""
    days = defaultdict(set)
    for m in db.rocketchat_message.find({}, {"ts": 1, "t": 1, "_hidden": 1, "u": 1}):
        if "t" not in m and m.get("_hidden") is not True:
            days[m["ts"].astimezone(zone).date()].add(m["u"]["_id"])
    return days


@pytest.fixture
async def engine(settings, db):
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    source = client[settings.database]
    streams = ChangeStreams(source)
    engine = Engine(source, client[settings.state_database], settings, streams, metrics={"senders": SENDERS})
    streams.start()
    engine.start()
    yield engine
    futures = [*streams.stop(), *engine.stop()]
    await client.close()
    for future in futures:
        future.cancel()
    await asyncio.wait(futures, timeout=2)


def add_messages(db, start: datetime, hours: int, seed: int) -> None:
    rng = random.Random(seed)
    db.rocketchat_room.insert_one(room_doc(f"R{seed}", "c", f"room-{seed}"))
    docs = []
    for i in range(hours * 6):
        ts = start + timedelta(seconds=rng.uniform(0, hours * 3600))
        author = {"_id": f"user{rng.randrange(40)}", "username": "u"}
        doc = message_doc(f"s{seed}-{i}", f"R{seed}", ts.replace(microsecond=0), author)
        if rng.random() < 0.1:
            doc["t"] = "uj"
        docs.append(doc)
    db.rocketchat_message.insert_many(docs)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"])
async def test_distinct_senders_per_local_day(engine, db, zone):
    add_messages(db, datetime(2024, 3, 20, tzinfo=UTC), 24 * 20, seed=1)  # across Lord Howe's April change
    tz = ZoneInfo(zone)
    first, last = datetime(2024, 3, 22).date(), datetime(2024, 4, 8).date()
    got = await engine.distinct(SENDERS, day_spans(tz, first, last))
    expected = senders_by_day(db, tz)
    assert got == [len(expected[first + timedelta(days=i)]) for i in range((last - first).days + 1)]
    assert all(0 < n <= 40 for n in got)
    sums = await engine.sums(SENDERS, day_spans(tz, first, last))
    assert sums != got  # a sum of messages is not a number of people


async def test_distinct_senders_today_follow_the_change_stream(engine, db):
    now = datetime.now(UTC)
    add_messages(db, now - timedelta(hours=3), 3, seed=2)
    today = now.date()
    (before,) = await engine.distinct(SENDERS, day_spans(ZoneInfo("UTC"), today, today))
    assert before == len(senders_by_day(db, ZoneInfo("UTC"))[today])
    assert await until(lambda: engine.watcher.healthy)
    db.rocketchat_message.insert_one(
        message_doc("new-sender", "R2", datetime.now(UTC), {"_id": "newcomer", "username": "n"})
    )
    db.rocketchat_message.insert_one(
        message_doc("same-sender", "R2", datetime.now(UTC), {"_id": "newcomer", "username": "n"})
    )

    async def counted() -> bool:
        (n,) = await engine.distinct(SENDERS, day_spans(ZoneInfo("UTC"), today, today))
        return n == before + 1

    assert await until(counted, 10)

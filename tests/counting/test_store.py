"""Kept days saved to and read back from a real state database, in the form of this release and of earlier ones."""

from __future__ import annotations

from array import array

from pymongo import AsyncMongoClient

from engagement_svc.counting.catalog import ACTIVE_USERS, MESSAGES
from engagement_svc.counting.kept import ClosedDay, PresenceDay
from engagement_svc.counting.store import StateStore, day_key

DAY = 20_000
SOURCE = "rs:test/rocketchat"


async def test_days_read_back_equal_the_days_saved(settings):
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        store = StateStore(client[settings.state_database])
        presence = ClosedDay.of_cells(DAY, {("u1", 3): 1, ("u1", 4): 1, ("u1", 9): 1, ("u2", 95): 1}, 0)
        counts = ClosedDay.of_cells(DAY + 1, {("r1", 3): 2, ("r2", 7): 1, ("r2", 8): 300}, 12)
        assert isinstance(presence, PresenceDay) and not isinstance(counts, PresenceDay)
        await store.save(SOURCE, ACTIVE_USERS, [presence])
        await store.save(SOURCE, MESSAGES, [counts])
        saved = await store.collection.find_one({"_id": day_key(SOURCE, ACTIVE_USERS, DAY)})
        assert "runs" in saved and "slots" not in saved and "counts" not in saved
        (back,) = (await store.load(SOURCE, ACTIVE_USERS, [DAY])).values()
        assert isinstance(back, PresenceDay) and back.cells() == presence.cells() and back.runs == presence.runs
        (back,) = (await store.load(SOURCE, MESSAGES, [DAY + 1])).values()
        assert type(back) is ClosedDay and back.cells() == counts.cells() and back.raw == 12
    finally:
        await client.close()


async def test_a_day_of_presence_saved_slot_by_slot_is_read_as_runs(settings):
    """What an earlier release saved for a day of sessions (a slot per entry, every count 1) reads as runs."""
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        store = StateStore(client[settings.state_database])
        slots = bytes([9, 3, 4, 95])  # u1's slots out of order, as a day of messages may hold them
        await store.collection.insert_one(
            {
                "_id": day_key(SOURCE, ACTIVE_USERS, DAY),
                "keys": ["u1", "u2"],
                "starts": array("I", [0, 3, 4]).tobytes(),
                "slots": slots,
                "counts": array("I", [1, 1, 1, 1]).tobytes(),
                "raw": 0,
            }
        )
        (back,) = (await store.load(SOURCE, ACTIVE_USERS, [DAY])).values()
        assert isinstance(back, PresenceDay)
        assert back.cells() == {("u1", 3): 1, ("u1", 4): 1, ("u1", 9): 1, ("u2", 95): 1}
        assert back.runs == bytes([3, 5, 9, 10, 95, 96])
    finally:
        await client.close()

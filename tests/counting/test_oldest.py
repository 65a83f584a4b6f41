"""The oldest document's time: days before it are empty without being counted or kept, and an older document
inserted later moves it back, so that its day is counted."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.resources import ENGINE
from tests.support.data import AUTHOR, fill
from tests.support.http import answers_brute_force, get_messages_sent, until
from tests.support.rocketchat import message_doc


async def test_days_before_the_oldest_message_are_never_counted_until_an_older_one_comes(client, db):
    fill(db, datetime(2024, 2, 1, tzinfo=UTC), 5, 30)  # 1 to 5 February
    engine = client.server.app[ENGINE]
    # 27 January to 5 February, and the ten days before it: only the five days from the first message are counted.
    params = {"start": "2024-01-27T00:00:00.000Z", "end": "2024-02-05T23:00:00.000Z", "timezone": "UTC"}
    assert await answers_brute_force(client, db, params)
    assert engine.stats["recounts"] == 5
    assert await until(lambda: engine.watcher.healthy)
    db.rocketchat_message.insert_one(message_doc("older", "C1", datetime(2024, 1, 20, 12, tzinfo=UTC), AUTHOR))

    async def counted_back() -> bool:
        return await answers_brute_force(client, db, params)

    assert await until(counted_back, seconds=10)
    assert engine.stats["recounts"] == 5 + 12  # and, once each, the days from 20 January (the new oldest) to the 31st


async def test_an_older_time_read_later_makes_what_read_its_days_as_empty_stale(client, db):
    """A message moved back in time (an update: no insert moves the oldest time at once) is on a day that reads take
    as empty, before the oldest time known, until the oldest time is read again: what was remembered meanwhile is
    stale from then on, and the next answer has the message."""
    fill(db, datetime(2024, 2, 1, tzinfo=UTC), 5, 30)  # 1 to 5 February
    engine = client.server.app[ENGINE]
    params = {"start": "2024-01-20T00:00:00.000Z", "end": "2024-01-25T23:00:00.000Z", "timezone": "UTC"}
    assert await answers_brute_force(client, db, params)  # all before the oldest message: nothing
    assert await until(lambda: engine.watcher.healthy)
    version = engine.closed.version(MESSAGES)
    moved = db.rocketchat_message.find_one({"ts": {"$gte": datetime(2024, 2, 5, tzinfo=UTC)}})
    db.rocketchat_message.update_one({"_id": moved["_id"]}, {"$set": {"ts": datetime(2024, 1, 22, 12, tzinfo=UTC)}})
    assert await until(lambda: engine.closed.version(MESSAGES) > version)  # the update is seen
    assert (await get_messages_sent(client, params))[0] == 200  # 22 January still read as empty, and remembered
    await engine.corrections.refresh()  # the oldest time is read again when next asked (every 10 minutes)

    async def counted_back() -> bool:
        return await answers_brute_force(client, db, params)

    assert await until(counted_back, seconds=10)

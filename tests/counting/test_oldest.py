"""The oldest document's time: days before it are empty without being counted or kept, and an older document
inserted later moves it back, so that its day is counted."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement_svc.resources import ENGINE
from tests.support.data import AUTHOR, fill
from tests.support.http import answers_brute_force, until
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

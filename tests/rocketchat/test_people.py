"""The accounts the members table lists, held from `users` and kept true by its change stream: what a row shows
(absent fields, the bot definition, deactivated accounts), anonymous accounts left out, an account added, changed
or deleted seen before the next answer, and fresh reads while no stream is followed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pymongo import AsyncMongoClient

from engagement_svc.rocketchat.changes import ChangeStreams
from engagement_svc.rocketchat.people import People, person
from tests.support.http import until
from tests.support.rocketchat import user_doc

MADE = datetime(2024, 6, 1, tzinfo=UTC)


def test_a_row_shows_what_the_account_has():
    ada = person({"_id": "u1", "username": "ada", "name": "Ada L", "roles": ["user"], "createdAt": MADE})
    assert ada is not None and (ada.username, ada.name, ada.type, ada.active, ada.created, ada.bot) == (
        "ada",
        "Ada L",
        "user",
        True,
        MADE,
        False,
    )
    bare = person({"_id": "u2"})
    assert bare is not None and (bare.username, bare.name, bare.type, bare.created) == (None, None, "user", None)
    assert person({"_id": "u3", "active": False, "roles": ["user"]}).active is False  # type: ignore[union-attr]
    assert person({"_id": "u4", "active": None}).active is True  # type: ignore[union-attr]
    for bot in ({"type": "bot"}, {"type": "app"}, {"roles": ["user", "bot"]}, {"roles": "bot"}):
        assert person({"_id": "b", **bot}).bot is True  # type: ignore[union-attr]
    assert person({"_id": "g", "roles": ["anonymous"]}) is None
    assert person({"_id": 7, "roles": ["user"]}) is None
    assert person({"_id": "n", "username": 5, "name": ["x"], "createdAt": "2024"}).username is None  # type: ignore[union-attr]


@pytest.fixture
async def directory(settings, db):
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    streams = ChangeStreams(client[settings.database])
    found = People(client[settings.database], streams.on("users"))
    streams.start()
    assert await until(lambda: streams.on("users").healthy, seconds=20)
    yield found
    futures = streams.stop()
    await client.close()
    for future in futures:
        future.cancel()
    await asyncio.wait(futures, timeout=2)


async def test_accounts_follow_the_users_stream(directory, db):
    db.users.insert_many(
        [
            user_doc("Ada00000000000001", "ada", ["user"], []),
            user_doc("Bot00000000000001", "helper", ["user", "bot"], []),
            user_doc("Guest000000000001", "guest", ["anonymous"], []),
        ]
    )
    generation, found = await directory.everyone()
    assert set(found) == {"Ada00000000000001", "Bot00000000000001"} and found["Bot00000000000001"].bot
    db.users.insert_one(user_doc("Eve00000000000001", "eve", ["user"], []))
    db.users.update_one({"_id": "Ada00000000000001"}, {"$set": {"active": False, "name": "Ada Lovelace"}})
    db.users.delete_one({"_id": "Bot00000000000001"})

    async def seen():
        later, now = await directory.everyone()
        return later != generation and set(now) == {"Ada00000000000001", "Eve00000000000001"} and now

    now = await until(seen, seconds=20)
    assert now and now["Ada00000000000001"].active is False and now["Ada00000000000001"].name == "Ada Lovelace"
    db.users.update_one({"_id": "Eve00000000000001"}, {"$set": {"roles": ["anonymous"]}})
    assert await until(lambda: _without(directory, "Eve00000000000001"), seconds=20)


async def _without(directory, uid):
    _, now = await directory.everyone()
    return uid not in now


async def test_without_a_stream_every_answer_reads_afresh(settings, db):
    client = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    try:
        directory = People(client[settings.database], None)
        db.users.insert_one(user_doc("Ada00000000000001", "ada", ["user"], []))
        first, found = await directory.everyone()
        assert set(found) == {"Ada00000000000001"}
        db.users.insert_one(user_doc("Eve00000000000001", "eve", ["user"], []))
        second, found = await directory.everyone()
        assert second != first and set(found) == {"Ada00000000000001", "Eve00000000000001"}
    finally:
        await client.close()

"""users/new-users: every number (JSON and every CSV cell) equals a brute-force recount of the users, in zones with
DST and odd offsets, for every value of bots; anonymous users never; new, deleted and changed users seen within
seconds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from engagement_svc.resources import ENGINE
from tests.support.data import ADMIN_HEADERS
from tests.support.http import NEW_USERS_PATH, get_csv, range_cases, until
from tests.support.oracle import csv_days, csv_name, expected_new_users, js
from tests.support.rocketchat import login_token, user_doc

ZONES = ["UTC", "America/Havana", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "Asia/Kolkata"]


def parse(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def get(client, params):
    response = await client.get(NEW_USERS_PATH, params=params, headers=ADMIN_HEADERS)
    return response.status, await response.json()


@pytest.fixture
def people(db, users):
    """2,000 users over 2024: people, bots by type, apps, role bots, anonymous users (left out), at day edges."""
    rng = random.Random(3)
    docs = []
    for i in range(2000):
        created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 366 * 86_400))
        if i % 10 == 0:  # on the minute around a UTC midnight
            created = created.replace(hour=0, minute=0, second=0) - timedelta(milliseconds=rng.choice([1, 0]))
        roll = rng.random()
        extra: dict = {}
        roles = ["user"]
        if roll < 0.05:
            extra["type"] = "bot"
        elif roll < 0.08:
            extra["type"] = "app"
        elif roll < 0.10:
            roles = ["user", "bot"]
        elif roll < 0.15:
            roles = ["anonymous"]
        docs.append(user_doc(f"User{i:013d}", f"user{i}", roles, [], createdAt=created, **extra))
    db.users.insert_many(docs)
    return db


async def test_new_users_equal_a_recount_in_every_zone(client, people):
    fixed = [
        ("2024-03-25T00:00:00.000Z", "2024-04-03T23:59:59.999Z", "Europe/Berlin"),  # spring forward, 31 March
        ("2024-10-21T00:00:00.000Z", "2024-11-04T00:00:00.000Z", "Europe/Berlin"),  # fall back, 27 October
        ("2024-03-05T00:00:00.000Z", "2024-03-15T00:00:00.000Z", "America/New_York"),  # 10 March
        ("2024-10-30T00:00:00.000Z", "2024-11-06T00:00:00.000Z", "America/New_York"),  # 3 November
        ("2024-03-01T00:00:00.000Z", "2024-03-31T23:59:59.999Z"),
        ("2024-01-01T00:00:00.000Z", "2024-12-31T00:00:00.000Z"),
        ("2023-01-01T00:00:00.000Z", "2023-01-07T00:00:00.000Z"),  # before any user: zeros
    ]
    total = 0
    for start, end, zone, bots in range_cases(fixed, ZONES, seed=8, longest_days=90):
        params = {"start": start, "end": end, "timezone": zone, "bots": bots}
        expected = expected_new_users(people, parse(start), parse(end), zone, bots)
        assert await get(client, params) == (200, expected), params
        name, rows = await get_csv(client, NEW_USERS_PATH, params)
        assert rows == csv_days(expected, "New Users"), params
        assert name == csv_name("new-users", parse(start), parse(end), zone)
        total += expected["period"]["count"]
    assert total > 2000


async def test_new_deleted_and_changed_users_are_seen(client, people):
    db = people
    engine = client.server.app[ENGINE]
    now = datetime.now(UTC)
    params = {"start": js(now - timedelta(days=6)), "end": js(now), "timezone": "Asia/Kathmandu"}
    assert (await get(client, params))[0] == 200
    assert await until(lambda: engine.watchers["users"].healthy)

    async def agrees(bots="include"):
        p = {**params, "bots": bots}
        return await get(client, p) == (
            200,
            expected_new_users(db, parse(p["start"]), parse(p["end"]), p["timezone"], bots),
        )

    db.users.insert_many([user_doc(f"Fresh{i:012d}", f"fresh{i}", ["user"], [], createdAt=now) for i in range(5)])
    assert await until(agrees, seconds=5)
    db.users.update_one({"_id": "Fresh000000000000"}, {"$set": {"type": "bot"}})
    assert await until(lambda: agrees("only"), seconds=5)
    db.users.update_one({"_id": "Fresh000000000001"}, {"$set": {"roles": ["anonymous"]}})
    db.users.delete_one({"_id": "Fresh000000000002"})
    assert await until(agrees, seconds=5)
    # a closed day: a user deleted, one made anonymous, one whose account date is corrected
    old = {"start": "2024-05-01T00:00:00.000Z", "end": "2024-05-31T00:00:00.000Z"}
    assert await get(client, old) == (200, expected_new_users(db, parse(old["start"]), parse(old["end"]), "UTC"))
    in_may = [u["_id"] for u in db.users.find({"createdAt": {"$gte": datetime(2024, 5, 2, tzinfo=UTC)}}).limit(3)]
    db.users.delete_one({"_id": in_may[0]})
    db.users.update_one({"_id": in_may[1]}, {"$set": {"roles": ["anonymous"]}})
    db.users.update_one({"_id": in_may[2]}, {"$set": {"createdAt": datetime(2024, 5, 20, 12, tzinfo=UTC)}})
    await engine.corrections.sweep()

    async def old_agrees():
        return await get(client, old) == (200, expected_new_users(db, parse(old["start"]), parse(old["end"]), "UTC"))

    assert await until(old_agrees, seconds=10)


async def test_a_presence_update_recounts_nothing(client, people):
    """Rocket.Chat rewrites users' status and login tokens all the time: none of that is a new-users change. A user
    added on a closed day afterwards is: the stream delivers it after the presence updates, so once its day has
    been counted again, whatever they had made due was counted too, and exactly one day was."""
    db = people
    engine = client.server.app[ENGINE]
    params = {"start": "2024-05-01T00:00:00.000Z", "end": "2024-05-31T00:00:00.000Z"}
    assert (await get(client, params))[0] == 200
    assert await until(lambda: engine.watchers["users"].healthy)
    recounts = engine.stats["recounts"]
    db.users.update_many({}, {"$set": {"status": "online", "statusConnection": "online"}})
    db.users.update_many({}, {"$push": {"services.resume.loginTokens": login_token("new", datetime.now(UTC))}})
    db.users.update_many({}, {"$set": {"status": "away"}})
    late = user_doc("Late0000000000001", "late", ["user"], [], createdAt=datetime(2024, 5, 14, 12, tzinfo=UTC))
    db.users.insert_one(late)
    expected = (200, expected_new_users(db, parse(params["start"]), parse(params["end"]), "UTC"))

    async def counted() -> bool:
        return await get(client, params) == expected

    # The answer, not the recount's statistic, is awaited: a day is counted (and the statistic moves) before it is
    # kept in place of the old one.
    assert await until(counted, seconds=10)
    assert engine.stats["recounts"] == recounts + 1 and not engine.corrections.params_pending

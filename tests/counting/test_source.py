"""The source: counts of one Rocket.Chat database never mix with another's, and a rule's set that changed while the
service was stopped is read at the first count."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from engagement_svc.app import create_app
from engagement_svc.counting.store import COUNTS_COLLECTION
from tests.support.data import fill
from tests.support.http import answers_brute_force


async def test_sources_and_zones_never_mix(aiohttp_client, settings, users, db, sync_client):
    other = sync_client[db.name + "_other"]
    try:
        from tests.support.data import ADMIN_ID, ADMIN_TOKEN
        from tests.support.rocketchat import base_documents, create_indexes, login_token, user_doc

        create_indexes(other)
        base_documents(other, [user_doc(ADMIN_ID, "admin", ["admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC))])])
        fill(db, datetime(2024, 2, 1, tzinfo=UTC), 20, 30, seed=1)
        fill(other, datetime(2024, 2, 1, tzinfo=UTC), 20, 60, seed=2)
        url_other = settings.mongo_url.replace(f"/{db.name}", f"/{other.name}")
        # Both services share one state database.
        a = await aiohttp_client(create_app(settings))
        b = await aiohttp_client(create_app(replace(settings, mongo_url=url_other, database=other.name)))
        for zone in ("UTC", "Europe/Berlin"):
            params = {"start": "2024-02-05T00:00:00Z", "end": "2024-02-15T00:00:00Z", "timezone": zone}
            assert await answers_brute_force(a, db, params)
            assert await answers_brute_force(b, other, params)
        keys = sync_client[settings.state_database][COUNTS_COLLECTION].distinct("source")
        assert len(keys) == 2
    finally:
        sync_client.drop_database(other.name)


async def test_a_user_who_became_a_bot_while_stopped_is_read_at_the_first_count(make_client, users, db):
    """Kept days of sessions were counted with the old bot set; the user who became a bot meanwhile is found at the
    first count, whose recount of those days (with what was kept) it waits for, then answers: not a wait on itself
    until its deadline."""
    from zoneinfo import ZoneInfo

    from tests.support.data import ADMIN_HEADERS
    from tests.support.http import ACTIVE_USERS_PATH
    from tests.support.oracle import expected_active_users
    from tests.support.rocketchat import Login, session_documents, user_doc

    people = [user_doc(f"Person{i:011d}", f"person{i}") for i in range(4)]
    db.users.insert_many(people)
    logins = [
        Login(p["_id"], "user", datetime(2024, 3, day, 9 + i, tzinfo=UTC), datetime(2024, 3, day, 10 + i, tzinfo=UTC))
        for day in (4, 5, 6)
        for i, p in enumerate(people)
    ]
    db.rocketchat_sessions.insert_many(session_documents(logins, datetime.now(UTC), ZoneInfo("Europe/Berlin")))
    start, end = datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 6, 23, tzinfo=UTC)
    params = {"start": "2024-03-04T00:00:00.000Z", "end": "2024-03-06T23:00:00.000Z", "timezone": "UTC"}

    async def answer(client) -> tuple[int, dict]:
        response = await client.get(ACTIVE_USERS_PATH, params={**params, "bots": "exclude"}, headers=ADMIN_HEADERS)
        return response.status, await response.json()

    first = await make_client()
    before = await answer(first)
    assert before == (200, expected_active_users(db, start, end, "UTC", "exclude"))
    assert any(people[0]["_id"] in day["usersList"] for day in before[1]["month"])
    await first.close()
    db.users.update_one({"_id": people[0]["_id"]}, {"$set": {"type": "bot"}})
    second = await make_client()
    after = await answer(second)
    assert after == (200, expected_active_users(db, start, end, "UTC", "exclude"))
    assert not any(people[0]["_id"] in day["usersList"] for day in after[1]["month"])

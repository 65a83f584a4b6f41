"""Several service replicas on one database: the backfill is shared (no day counted by two at once), each answer
exact; one replica killed under load leaves only right numbers and the documented 503s; and with
readPreference=secondaryPreferred the backfill's reads are served by a secondary of a three-member set."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
from pymongo import MongoClient

from engagement_svc.app import create_app
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS, ADMIN_ID, ADMIN_TOKEN, fill
from tests.support.http import MESSAGES_SENT_PATH, ORIGIN_PATH, expected_for, until
from tests.support.live import LiveServer
from tests.support.mongo import with_database
from tests.support.oracle import closed_days, expected_origin
from tests.support.replicaset import ReplicaSet
from tests.support.rocketchat import base_documents, create_indexes, login_token, user_doc

RANGES = [
    ("2024-01-03T00:00:00.000Z", "2024-01-30T23:59:59.999Z", "UTC"),
    ("2024-02-01T00:00:00.000Z", "2024-03-31T12:00:00.000Z", "Europe/Berlin"),
    ("2024-03-05T00:00:00.000Z", "2024-04-20T00:00:00.000Z", "America/Havana"),
]


def parse(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def expected(db) -> dict:
    out = {}
    for start, end, zone in RANGES:
        params = {"start": start, "end": end, "timezone": zone}
        out[(MESSAGES_SENT_PATH, start)] = expected_for(db, params)
        out[(ORIGIN_PATH, start)] = expected_origin(db, parse(start), parse(end), zone)
    return out


async def backfilled(client) -> bool:
    response = await client.get("/readyz")
    progress = (await response.json())["backfill"]
    return progress["days_left"] == 0 and progress["days_counted"] > 0


async def test_two_replicas_share_the_backfill(aiohttp_client, settings, users, db):
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 120, 100)
    shared = replace(settings, warm_days=36_500)
    first = await aiohttp_client(create_app(shared))
    second = await aiohttp_client(create_app(shared))
    for client in (first, second):
        assert await until(lambda c=client: backfilled(c), seconds=120)
    engines = [c.server.app[ENGINE] for c in (first, second)]
    first_message = db.rocketchat_message.find_one(sort=[("ts", 1)])["ts"]
    oldest = [first_message, db.users.find_one(sort=[("createdAt", 1)])["createdAt"]]
    days = closed_days(settings.close_grace_seconds, oldest)  # messages and new users (posts: when asked)
    counted = sum(e.stats["recounts"] for e in engines)
    # Each day counted about once between the two (a chunk both took at the same instant may be counted twice),
    # the rest taken from the other replica or read back from the state database.
    assert days <= counted + sum(e.stats["shared_days"] + e.stats["state_hits"] for e in engines)
    assert counted <= days * 1.2, (counted, days)
    for client in (first, second):
        for (path, start), body in expected(db).items():
            end, zone = next((e, z) for s, e, z in RANGES if s == start)
            response = await client.get(
                path, params={"start": start, "end": end, "timezone": zone}, headers=ADMIN_HEADERS
            )
            assert (response.status, await response.json()) == (200, body)


async def test_two_replicas_under_load_one_killed(mongo_url, db, users):
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), 120, 100)
    answers = expected(db)
    env = {
        "ENGAGEMENT_STATE_MONGO_URL": with_database(mongo_url, db.name + "_state"),
        "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
        "ENGAGEMENT_QUERY_TIMEOUT_MS": "10000",
    }
    url = with_database(mongo_url, db.name)
    statuses: Counter = Counter()
    answered: list[str] = []  # the replica of every answer, in order
    wrong: list = []
    stop = False

    async def worker(session, base: str, n: int) -> None:
        i = n
        while not stop:
            i += 1
            path, start = list(answers)[i % len(answers)]
            end, zone = next((e, z) for s, e, z in RANGES if s == start)
            try:
                async with session.get(
                    base + path, params={"start": start, "end": end, "timezone": zone}, headers=ADMIN_HEADERS
                ) as response:
                    body = await response.json()
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                statuses["refused (killed replica)"] += 1
                return  # its replica is gone
            statuses[response.status] += 1
            answered.append(base)
            if response.status == 200 and body != answers[(path, start)]:
                wrong.append((path, start))
            elif response.status == 503 and (not body["error"] or "Retry-After" not in response.headers):
                wrong.append(("503 without Retry-After", body))
            elif response.status not in (200, 503):
                wrong.append((response.status, body))

    with LiveServer(url, **env) as a, LiveServer(url, **env) as b:
        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.ensure_future(worker(session, s.base_url, n)) for n in range(4) for s in (a, b)]
            both = {a.base_url, b.base_url}
            assert await until(lambda: set(answered) == both and len(answered) >= 40, seconds=120)  # under load
            os.kill(a.process.pid, signal.SIGKILL)
            killed_at = len(answered)
            # its four workers meet the closed connection; the other replica answers 40 more
            assert await until(
                lambda: statuses["refused (killed replica)"] == 4 and answered[killed_at:].count(b.base_url) >= 40,
                seconds=120,
            )
            stop = True
            await asyncio.gather(*tasks)
            with LiveServer(url, **env) as again:  # a replica started again answers exactly too
                for (path, start), body in answers.items():
                    end, zone = next((e, z) for s, e, z in RANGES if s == start)
                    params = {"start": start, "end": end, "timezone": zone}

                    async def right(path=path, params=params, body=body) -> bool:
                        async with session.get(again.base_url + path, params=params, headers=ADMIN_HEADERS) as r:
                            return r.status == 200 and await r.json() == body

                    assert await until(right, seconds=30)
    assert not wrong, wrong[:5]
    assert statuses[200] > 50 and set(statuses) <= {200, 503, "refused (killed replica)"}, statuses


def profiled_heavy_reads(client: MongoClient) -> int:
    """Aggregations and counts on Rocket.Chat's collections sent with afterClusterTime (the backfill's session)."""
    return client.rocketchat.system.profile.count_documents({"command.readConcern.afterClusterTime": {"$exists": True}})


async def test_backfill_reads_go_to_a_secondary_with_secondary_preferred(aiohttp_client):
    with ReplicaSet("rsreads") as rs:
        sync = MongoClient(rs.url("rocketchat", w="3"), tz_aware=True)  # every member holds all the data
        db = sync.rocketchat
        create_indexes(db)
        base_documents(db, [user_doc(ADMIN_ID, "admin", ["admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC))])])
        fill(db, datetime.now(UTC) - timedelta(days=60), 60, 50)
        members = [MongoClient(m.url, tz_aware=True) for m in rs.members]
        for member in members:
            member.rocketchat.command("profile", 2)
        settings = Settings(
            mongo_url=rs.url("rocketchat", readPreference="secondaryPreferred"),
            database="rocketchat",
            state_database="rocketchat_state",
            query_timeout_ms=20_000,
            rate_limit_calls=0,
        )
        client = await aiohttp_client(create_app(settings))
        assert await until(lambda: backfilled(client), seconds=120)
        now = datetime.now(UTC)
        params = {"start": (now - timedelta(days=40)).isoformat(), "end": (now - timedelta(days=2)).isoformat()}
        params = {k: v.replace("+00:00", "Z") for k, v in params.items()} | {"timezone": "UTC"}
        response = await client.get(MESSAGES_SENT_PATH, params=params, headers=ADMIN_HEADERS)
        assert (response.status, await response.json()) == (200, expected_for(db, params))
        primary = sync.primary
        heavy = {m.address: profiled_heavy_reads(m) for m in members}
        on_primary = sum(n for address, n in heavy.items() if address == primary)
        on_secondaries = sum(n for address, n in heavy.items() if address != primary)
        assert on_secondaries > 0 and on_primary == 0, heavy
        await client.close()
        for member in members:
            member.close()
        sync.close()

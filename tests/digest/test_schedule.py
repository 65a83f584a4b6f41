"""The weekly digest inside `serve`: two replicas' schedulers on one state database send it once; the claim says
so; a digest that cannot be posted is given up and not sent again; the token is never logged."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engagement_svc.app import create_app
from engagement_svc.digest.schedule import DIGEST, DIGESTS_COLLECTION
from engagement_svc.settings import WEEKDAYS
from tests.support.data import fill
from tests.support.http import until
from tests.support.webhook import HOOK_TOKEN, Receiver


@pytest.fixture
async def receiver(aiohttp_server):
    return await Receiver().start(aiohttp_server)


def due_now(settings, url: str):
    """Settings whose weekly digest fell due at the start of this hour (so a scheduler sends it at once)."""
    now = datetime.now(UTC)
    return replace(settings, digest_webhook=url, digest_weekday=WEEKDAYS[now.weekday()], digest_hour=now.hour)


def claims(sync_client, settings) -> list[dict]:
    return list(sync_client[settings.state_database][DIGESTS_COLLECTION].find())


async def test_two_replicas_send_it_once(aiohttp_client, db, settings, sync_client, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    fill(db, datetime(2024, 1, 1, tzinfo=UTC), days=3, per_day=20)
    scheduled = due_now(settings, receiver.url)
    replicas = [await aiohttp_client(create_app(scheduled)) for _ in range(2)]
    schedulers = [r.app[DIGEST] for r in replicas]
    assert await until(lambda: all(s.outcomes for s in schedulers), 120)
    outcomes = sorted(o for s in schedulers for o in s.outcomes.values())
    assert outcomes == ["claimed elsewhere", "sent"]
    assert len(receiver.received) == 1
    (claim,) = claims(sync_client, settings)
    assert claim["state"] == "sent" and claim["_id"].startswith(f"{settings.database}|7d|")

    # A third replica started later the same day finds it sent.
    late = await aiohttp_client(create_app(scheduled))
    assert await until(lambda: late.app[DIGEST].outcomes, 60)
    assert list(late.app[DIGEST].outcomes.values()) == ["claimed elsewhere"]
    assert len(receiver.received) == 1
    assert HOOK_TOKEN not in caplog.text and "Traceback" not in caplog.text


async def test_a_digest_the_webhook_refuses_is_given_up_once(aiohttp_client, settings, sync_client, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [404]
    replica = await aiohttp_client(create_app(due_now(settings, receiver.url)))
    assert await until(lambda: replica.app[DIGEST].outcomes, 120)
    assert list(replica.app[DIGEST].outcomes.values()) == ["failed"]
    assert len(receiver.received) == 1
    assert [c["state"] for c in claims(sync_client, settings)] == ["failed"]
    assert HOOK_TOKEN not in caplog.text and "Traceback" not in caplog.text


async def test_no_webhook_no_scheduler(aiohttp_client, settings):
    replica = await aiohttp_client(create_app(settings))
    assert DIGEST not in replica.app

"""A real mongod for the whole session (or ENGAGEMENT_TEST_MONGO_URL), a fresh database for every test."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient

from engagement_svc.api.routes import MESSAGES_SENT_PATH
from engagement_svc.app import create_app
from engagement_svc.demo.dataset import base_documents, create_indexes, login_token, user_doc
from engagement_svc.demo.embedded import EmbeddedMongo
from engagement_svc.settings import Settings

ADMIN_ID, ADMIN_TOKEN = "AdminUserId000001", "admin-token-raw-value"
USER_ID, USER_TOKEN = "PlainUserId000001", "plain-token-raw-value"


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """The server's URL without a database; tests start their own mongod unless told to use another."""
    external = os.environ.get("ENGAGEMENT_TEST_MONGO_URL")
    if external:
        yield external
        return
    with EmbeddedMongo() as mongo:
        yield mongo.url


@pytest.fixture
def own_mongo():
    """A mongod of the test's own (one admin user, Rocket.Chat's indexes, in database rocketchat), so that
    stopping, freezing or securing it disturbs no other test."""
    with EmbeddedMongo(cache_gb=0.25) as mongo:
        client = MongoClient(mongo.url, tz_aware=True)
        create_indexes(client.rocketchat)
        base_documents(
            client.rocketchat,
            [
                user_doc(
                    ADMIN_ID, "admin", ["admin"], [login_token(ADMIN_TOKEN, datetime.now(UTC) - timedelta(hours=1))]
                )
            ],
        )
        client.close()
        yield mongo


@pytest.fixture(scope="session")
def sync_client(mongo_url) -> Iterator[MongoClient]:
    client = MongoClient(mongo_url, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def db(sync_client):
    """A fresh, empty database with Rocket.Chat's indexes, dropped afterwards."""
    name = "rc_test_" + uuid.uuid4().hex[:12]
    database = sync_client[name]
    create_indexes(database)
    yield database
    sync_client.drop_database(name)
    sync_client.drop_database(name + "_state")


def with_database(url: str, database: str) -> str:
    """The server URL with its path set to `database`, as MONGO_URL carries it."""
    base, _, options = url.partition("?")
    base = base.rstrip("/")
    if base.count("/") > 2:
        base = base.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{options}" if options else "")


@pytest.fixture
def settings(mongo_url, db) -> Settings:
    url = with_database(mongo_url, db.name)
    return Settings(
        mongo_url=url, database=db.name, query_timeout_ms=20_000, state_database=db.name + "_state", warm_days=0
    )  # tests that want start-up warming ask for it


@pytest.fixture
def users(db):
    """An admin and a plain user, each with a fresh login token, and Rocket.Chat's permission documents."""
    now = datetime.now(UTC)
    base_documents(
        db,
        [
            user_doc(ADMIN_ID, "admin", ["user", "admin"], [login_token(ADMIN_TOKEN, now - timedelta(days=1))]),
            user_doc(USER_ID, "jdoe", ["user"], [login_token(USER_TOKEN, now - timedelta(days=1))]),
        ],
    )


@pytest.fixture
async def client(aiohttp_client, settings, users):
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def make_client(aiohttp_client, settings):
    """A test client for the app with some settings changed."""

    async def make(**changes):
        return await aiohttp_client(create_app(replace(settings, **changes)))

    return make


ADMIN_HEADERS = {"X-User-Id": ADMIN_ID, "X-Auth-Token": ADMIN_TOKEN}


async def until(predicate, seconds=30.0):
    """Poll an async predicate until it holds or the time is up (a bound on the test, not a figure asserted)."""
    deadline = time.monotonic() + seconds
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def get_messages_sent(client, params: dict, headers: dict | None = None):
    """GET the endpoint; returns (status, parsed JSON body)."""
    response = await client.get(
        MESSAGES_SENT_PATH, params=params, headers=ADMIN_HEADERS if headers is None else headers
    )
    assert response.content_type == "application/json"
    return response.status, await response.json()

"""A real mongod for the whole session (or ENGAGEMENT_TEST_MONGO_URL), a fresh database for every test."""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient

from engagement_svc.app import create_app
from engagement_svc.demo.embedded import EmbeddedMongo  # the mongod the tests run against: a process, not data
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_ID, ADMIN_TOKEN, USER_ID, USER_TOKEN
from tests.support.mongo import with_database
from tests.support.rocketchat import base_documents, create_indexes, login_token, user_doc

# pytest-timeout stops its timer once a test has failed (pytest_exception_interact), so a teardown that hangs after
# a failure would hang the run until CI kills it, with nothing printed. This one is armed for each test's setup,
# call and teardown and never stopped early: past it, every thread's stack is printed and the run ends.
HARD_LIMIT_S = 600


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item):
    faulthandler.dump_traceback_later(HARD_LIMIT_S, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


# Each run gets a temporary folder of its own, as TMPDIR, which every process the tests start inherits (mongod's data
# folders, the demo's, built wheels...). What is still in it when the run ends was left behind by this run and no
# other: other runs on the machine (other checkouts' suites) write their own files to the shared temp dir at the
# same time, so comparing that one before and after would blame them. The folder goes at the end either way.
RUN_TEMP = ""


def pytest_configure(config):
    global RUN_TEMP  # noqa: PLW0603 - one folder per run, made before any test asks for a temporary file
    RUN_TEMP = tempfile.mkdtemp(prefix="engagement-tests-")
    os.environ["TMPDIR"] = RUN_TEMP
    tempfile.tempdir = None  # the documented way to have gettempdir() read TMPDIR again


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if it left anything in its temporary folder (pytest's own tmp_path folders aside: pytest
    keeps those on purpose; they go with the folder)."""
    if not RUN_TEMP:
        return
    left = sorted(name for name in os.listdir(RUN_TEMP) if not name.startswith("pytest-of-"))
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the tests left behind in the temporary folder: {', '.join(left[:10])}"
        if reporter is not None:
            reporter.write("\n")
            reporter.write_sep("!", message, red=True, bold=True)
        else:
            print(message, file=sys.stderr)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(RUN_TEMP, ignore_errors=True)


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

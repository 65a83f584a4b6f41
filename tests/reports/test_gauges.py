"""The engagement gauges on /metrics over a real mongod: each equals the matching endpoint's number for today in
the service's zone, bots included and excluded (messages sent and new users also equal the brute-force recount);
a scrape while the database hangs answers within Prometheus' scrape timeout with the previous values marked stale,
and the gauges recover when it returns; ENGAGEMENT_GAUGES_SECONDS=0 shows none; every gauge is documented."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from engagement_svc.app import create_app
from engagement_svc.metrics import REFRESH_GAUGES
from engagement_svc.reports.gauges import FAMILIES, today_query
from engagement_svc.settings import Settings
from tests.support.data import ADMIN_HEADERS
from tests.support.http import (
    ACTIVE_USERS_PATH,
    CLIENTS_PATH,
    MESSAGES_SENT_PATH,
    NEW_USERS_PATH,
    POSTING_USERS_PATH,
    until,
)
from tests.support.oracle import count_by_local_day, expected_new_users, js
from tests.support.people import seeded_workspace
from tests.support.rocketchat import message_doc, room_doc, user_doc

ZONE = "Asia/Kathmandu"  # +5:45: its day is no UTC day
SCRAPE_TIMEOUT_S = 10  # Prometheus' default scrape_timeout: a scrape past it is a failed scrape
OPS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


async def scrape(client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The engagement_ families of one scrape (the service's own engagement_svc_ ones left out): per name, per
    labels, the value; a family without samples is present and empty."""
    async with asyncio.timeout(SCRAPE_TIMEOUT_S):
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("engagement_") and not family.name.startswith("engagement_svc_"):
            out[family.name] = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return out


def gauge(samples, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


@pytest.fixture(scope="module")
def workspace(sync_client):
    """The people workspace (messages and sessions up to now, bots among them), with accounts created today in
    the service's zone: two people and a bot."""
    for db in seeded_workspace(sync_client, "rc_gauges_", seed=26):
        now = datetime.now(UTC)
        midnight = datetime.combine(now.astimezone(ZoneInfo(ZONE)).date(), time(0), tzinfo=ZoneInfo(ZONE))
        db.users.insert_many(
            [
                user_doc("NewPerson00000001", "new.one", ["user"], [], createdAt=midnight + timedelta(milliseconds=1)),
                user_doc("NewPerson00000002", "new.two", ["user"], [], createdAt=now - timedelta(seconds=1)),
                user_doc("NewBot00000000001", "new.bot", ["bot"], [], type="bot", createdAt=now),
            ]
        )
        # A person's message and a bot's today, whatever the time of day (the seeded ones may all be before
        # midnight in the zone, just after it).
        at = max(midnight + timedelta(milliseconds=2), now - timedelta(seconds=1))
        db.rocketchat_room.insert_one(room_doc("GaugesRoom0000001", "c", "gauges"))
        db.rocketchat_message.insert_many(
            [
                message_doc(
                    "gauges-person", "GaugesRoom0000001", at, {"_id": "NewPerson00000001", "username": "new.one"}
                ),
                message_doc("gauges-bot", "GaugesRoom0000001", at, {"_id": "NewBot00000000001", "username": "new.bot"}),
            ]
        )
        yield db


@pytest.fixture
async def service(aiohttp_client, workspace_settings):
    return await aiohttp_client(create_app(workspace_settings(timezone=ZONE)))


async def api(client, path: str, bots: str) -> dict:
    q = today_query(ZONE, bots)  # start and end now: today, in the service's zone (no `timezone` sent)
    params = {"start": js(q.start), "end": js(q.end), "bots": bots}
    response = await client.get(path, params=params, headers=ADMIN_HEADERS)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.parametrize("bots", ["include", "exclude"])
async def test_each_gauge_equals_the_api_for_today(service, workspace, bots):
    samples = await scrape(service)
    assert gauge(samples, "engagement_gauges_stale") == 0
    messages = (await api(service, MESSAGES_SENT_PATH, bots))["days"][0]["messages"]
    posting = (await api(service, POSTING_USERS_PATH, bots))["days"][0]["users"]
    new_users = (await api(service, NEW_USERS_PATH, bots))["days"][0]["users"]
    active = (await api(service, ACTIVE_USERS_PATH, bots))["month"][0]
    clients = (await api(service, CLIENTS_PATH, bots))["days"][0]
    assert gauge(samples, "engagement_messages_sent", bots=bots) == messages
    assert gauge(samples, "engagement_people_posting", bots=bots) == posting
    assert gauge(samples, "engagement_new_users", bots=bots) == new_users
    for window, field in (("1d", "users"), ("7d", "wau"), ("30d", "mau")):
        assert gauge(samples, "engagement_active_users", window=window, bots=bots) == active[field]
    for client in ("web", "desktop", "mobile", "other"):
        assert gauge(samples, "engagement_active_users_by_client", client=client, bots=bots) == clients[client]

    # And the same figures as a recount of the raw documents, apart from the service.
    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    assert messages == count_by_local_day(workspace, ZoneInfo(ZONE), bots)[today]
    now = datetime.now(UTC)
    assert new_users == expected_new_users(workspace, now, now, ZONE, bots)["days"][0]["users"]
    assert new_users == (3 if bots == "include" else 2)  # the accounts made today, the bot's counted or not
    # Non-trivial figures: the workspace has people posting and active today.
    assert messages > 0 and posting > 0 and active["users"] > 0 and active["mau"] >= active["wau"] >= active["users"]


async def test_bots_make_the_difference_between_include_and_exclude(service):
    samples = await scrape(service)
    for name in ("engagement_messages_sent", "engagement_new_users"):
        assert gauge(samples, name, bots="include") > gauge(samples, name, bots="exclude")
    assert gauge(samples, "engagement_gauges_age_seconds") >= 0
    assert gauge(samples, "engagement_gauges_refresh_seconds") > 0


async def test_setting_zero_turns_the_gauges_off(aiohttp_client, workspace_settings):
    client = await aiohttp_client(create_app(workspace_settings(timezone=ZONE, gauges_seconds=0)))
    assert await scrape(client) == {}


# -- a hung database -----------------------------------------------------------------------------------------------
TIMEOUT_MS = 1500


def insert_message(mongo, mid: str) -> None:
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    db = client.rocketchat
    if db.rocketchat_room.count_documents({"_id": "C1"}) == 0:
        db.rocketchat_room.insert_one(room_doc("C1", "c", "general"))
    db.rocketchat_message.insert_one(
        message_doc(mid, "C1", datetime.now(UTC), {"_id": "Poster00000000001", "username": "poster"})
    )
    client.close()


async def test_a_hung_database_gives_the_last_values_marked_stale_then_recovers(aiohttp_client, own_mongo):
    insert_message(own_mongo, "m1")
    settings = Settings(
        mongo_url=own_mongo.url_for("rocketchat"),
        database="rocketchat",
        query_timeout_ms=TIMEOUT_MS,
        gauges_seconds=1,
    )
    client = await aiohttp_client(create_app(settings))

    async def fresh_with(n: int):
        samples = await scrape(client)
        if gauge(samples, "engagement_gauges_stale") == 0 and samples["engagement_messages_sent"]:
            return samples if gauge(samples, "engagement_messages_sent", bots="include") == n else None
        return None

    before = await until(lambda: fresh_with(1))
    assert before
    own_mongo.freeze()
    try:  # every scrape below is answered (within the scrape timeout) while mongod is still frozen
        during = await until(lambda: stale(client))
        again = await scrape(client)
    finally:
        own_mongo.thaw()
    assert during and gauge(during, "engagement_gauges_stale") == 1
    for samples in (during, again):
        for name in FAMILIES:
            assert samples[name] == before[name], name  # the previous values, unchanged
    assert gauge(again, "engagement_gauges_age_seconds") > gauge(before, "engagement_gauges_age_seconds")

    await asyncio.get_running_loop().run_in_executor(None, insert_message, own_mongo, "m2")
    assert await until(lambda: fresh_with(2), seconds=60)  # back: fresh, and following the database again


async def stale(client):
    samples = await scrape(client)
    return samples if gauge(samples, "engagement_gauges_stale") == 1 else None


# -- documentation -------------------------------------------------------------------------------------------------
def test_every_gauge_is_documented_with_its_help_and_labels():
    """docs/operations.md lists each gauge as `- `name` {`label`, ...}: help`, the help as the scrape shows it."""
    section = OPS.read_text(encoding="utf-8").split("## Engagement gauges", 1)[1].split("\n## ", 1)[0]
    items = [" ".join(item.split()) for item in re.split(r"\n(?=- )", section) if item.startswith("- `")]
    documented = {item.split("`")[1]: item for item in items}
    for name, (help_text, labels) in {**FAMILIES, **{k: (v, ()) for k, v in REFRESH_GAUGES.items()}}.items():
        shown = "{" + ", ".join(f"`{label}`" for label in labels) + "}: " if labels else ": "
        assert documented[name].startswith(f"- `{name}` {shown}".replace(" : ", ": ")), documented[name]
        assert help_text in documented[name], name
    assert "ENGAGEMENT_GAUGES_SECONDS" in section

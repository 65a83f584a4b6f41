"""Rocket.Chat's CORS and rate-limiter settings as Rocket.Chat reads them, and the shared reads of them."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from engagement_svc.rocketchat.workspace import Limit, Snapshot, Workspace, cors, limit
from tests.support.http import until


def snapshot(**settings) -> Snapshot:
    return Snapshot(settings, {})


@pytest.mark.parametrize(
    "settings, enabled, any_origin, origins",
    [
        ({}, False, True, set()),  # Rocket.Chat's defaults: off, and `*`
        ({"API_Enable_CORS": True}, True, True, set()),
        ({"API_Enable_CORS": "true"}, False, True, set()),  # only the boolean turns it on
        ({"API_Enable_CORS": True, "API_CORS_Origin": " * "}, True, True, set()),
        (
            {"API_Enable_CORS": True, "API_CORS_Origin": "https://A.example, https://b.example ,"},
            True,
            False,
            {"https://a.example", "https://b.example"},
        ),
        ({"API_Enable_CORS": True, "API_CORS_Origin": 42}, True, True, set()),
    ],
)
def test_cors_settings(settings, enabled, any_origin, origins):
    found = cors(snapshot(**settings))
    assert (found.enabled, found.any_origin, set(found.origins)) == (enabled, any_origin, origins)


@pytest.mark.parametrize(
    "settings, fallback, expected",
    [
        ({}, (10, 60), Limit(10, 60)),
        ({}, (0, 60), Limit(0, 60)),  # the service's own off, Rocket.Chat silent: off
        ({"API_Enable_Rate_Limiter": False}, (10, 60), Limit(0, 60)),
        ({"API_Enable_Rate_Limiter": True}, (0, 60), Limit(10, 60)),  # on by Rocket.Chat: its default count
        ({"API_Enable_Rate_Limiter_Limit_Calls_Default": 3}, (10, 60), Limit(3, 60)),
        ({"API_Enable_Rate_Limiter_Limit_Time_Default": 5000}, (10, 60), Limit(10, 5)),
        ({"API_Enable_Rate_Limiter_Limit_Calls_Default": "7"}, (10, 60), Limit(7, 60)),
        ({"API_Enable_Rate_Limiter_Limit_Calls_Default": 0}, (10, 60), Limit(10, 60)),  # unusable: the fallback
        ({"API_Enable_Rate_Limiter_Limit_Calls_Default": "lots"}, (10, 60), Limit(10, 60)),
        ({"API_Enable_Rate_Limiter_Limit_Calls_Default": float("nan")}, (10, 60), Limit(10, 60)),
        ({"API_Enable_Rate_Limiter_Limit_Time_Default": 10**15}, (10, 60), Limit(10, 86_400)),
    ],
)
def test_rate_limit_settings(settings, fallback, expected):
    assert limit(snapshot(**settings), *fallback) == expected


async def test_reads_are_shared_follow_changes_and_a_failed_one_keeps_the_last_values(db, settings, monkeypatch):
    db.rocketchat_settings.insert_one({"_id": "API_Enable_CORS", "value": True})
    workspace = Workspace()
    assert workspace.last.settings == {}
    client = AsyncMongoClient(settings.mongo_url)
    rocketchat = client[db.name]
    first, second = await asyncio.gather(workspace.get(rocketchat), workspace.get(rocketchat))
    assert first is second and first.settings == {"API_Enable_CORS": True} and workspace.last is first
    monkeypatch.setattr(Workspace, "TTL_S", 0.0)  # every value is old at once
    db.rocketchat_settings.update_one({"_id": "API_Enable_CORS"}, {"$set": {"value": False}})
    # current() never waits once anything was read: it gives the last values and starts a new read
    assert (await workspace.current(rocketchat, 1.0)).settings["API_Enable_CORS"] is True

    async def read_again():
        return workspace.last.settings["API_Enable_CORS"] is False

    assert await until(read_again, seconds=10)
    await client.close()
    with pytest.raises(PyMongoError):
        await workspace.get(rocketchat)
    assert workspace.last.settings["API_Enable_CORS"] is False  # the last values stay in force

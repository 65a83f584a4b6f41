"""`mongod --auth`: a user that can only read Rocket.Chat's database and write the service's own is enough for
every feature (counts, state, change stream, corrections, readiness, warming)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from engagement_svc.app import create_app
from engagement_svc.counting.store import COUNTS_COLLECTION
from engagement_svc.resources import ENGINE
from engagement_svc.settings import Settings
from tests.support.data import AUTHOR, fill
from tests.support.http import answers_brute_force, recent_params, until
from tests.support.rocketchat import message_doc

SERVICE_USER = ("engagement", "service-password")
ROLES = [{"role": "read", "db": "rocketchat"}, {"role": "readWrite", "db": "engagement_svc"}]


@pytest.fixture
def secured_mongo(own_mongo):
    client = MongoClient(own_mongo.url, tz_aware=True)
    client.rocketchat.rocketchat_settings.insert_one({"_id": "uniqueID", "value": "secured-workspace"})
    fill(client.rocketchat, datetime.now(UTC) - timedelta(days=40), 40, 30)
    client.close()
    own_mongo.enable_auth([{"createUser": SERVICE_USER[0], "pwd": SERVICE_USER[1], "roles": ROLES}])
    return own_mongo


async def test_read_only_user_is_enough_for_every_feature(aiohttp_client, secured_mongo, caplog):
    caplog.set_level(logging.INFO)
    root = MongoClient(secured_mongo.url, tz_aware=True)
    db = root.rocketchat
    service_url = secured_mongo.url_for("rocketchat", SERVICE_USER)
    anonymous = MongoClient(secured_mongo.url_for("rocketchat", ("nobody", "x")), serverSelectionTimeoutMS=3000)
    with pytest.raises(OperationFailure):  # auth is really on
        anonymous.rocketchat.users.find_one()
    anonymous.close()
    service = MongoClient(service_url, tz_aware=True)
    with pytest.raises(OperationFailure):  # and the service's user cannot write Rocket.Chat's data
        service.rocketchat.rocketchat_message.insert_one({"_id": "x"})
    service.close()

    settings = Settings(
        mongo_url=service_url, database="rocketchat", warm_days=30, sweep_seconds=1, query_timeout_ms=20_000
    )
    client = await aiohttp_client(create_app(settings))
    engine = client.server.app[ENGINE]
    params = recent_params(days=30)
    assert await answers_brute_force(client, db, params)
    assert await until(lambda: engine.watcher.healthy)
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["change_stream"] is True

    # New messages today through the change stream; a hidden message on a closed day recounted.
    db.rocketchat_message.insert_one(message_doc("fresh1", "C1", datetime.now(UTC), AUTHOR))
    assert await until(lambda: answers_brute_force(client, db, params))
    victim = db.rocketchat_message.find_one(
        {
            "ts": {"$lt": datetime.now(UTC) - timedelta(days=5)},
            "rid": "C1",
            "t": {"$exists": False},
            "_hidden": {"$ne": True},
        }
    )
    db.rocketchat_message.update_one({"_id": victim["_id"]}, {"$set": {"_hidden": True}})
    assert await until(lambda: answers_brute_force(client, db, params))
    assert engine.stats["recounts"] > 0

    kept = root.engagement_svc[COUNTS_COLLECTION]
    assert await until(lambda: kept.count_documents({"source": {"$regex": "secured-workspace"}}) > 0)
    text = caplog.text
    assert "not authorized" not in text.lower() and "Unauthorized" not in text and "Traceback" not in text
    assert service_url.split("@")[0].split(":")[-1] not in text  # the password
    root.close()


async def test_a_wrong_database_password_is_named_as_such(aiohttp_client, secured_mongo, caplog):
    """Not a timeout: /readyz, the 503 and the log say the database refused the credentials (and never echo them)."""
    caplog.set_level(logging.INFO)
    url = secured_mongo.url_for("rocketchat", (SERVICE_USER[0], "wrong-password"))
    client = await aiohttp_client(create_app(Settings(mongo_url=url, database="rocketchat", query_timeout_ms=3000)))
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503 and body["mongo"] == "auth_failed" and body["state"] == "auth_failed"
    response = await client.get(
        "/api/v1/engagement-dashboard/messages/messages-sent",
        params={"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
        headers={"X-User-Id": "AdminUserId000001", "X-Auth-Token": "admin-token-raw-value"},
    )
    assert response.status == 503
    assert await response.json() == {
        "success": False,
        "error": "The database refused the service's credentials; try again later",
    }
    assert "auth_failed" in caplog.text and "wrong-password" not in caplog.text

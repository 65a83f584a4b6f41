"""Rocket.Chat's CORS on the API paths, following API_Enable_CORS and API_CORS_Origin from rocketchat_settings."""

from __future__ import annotations

import time

from tests.support.data import ADMIN_HEADERS
from tests.support.http import CHANNELS_LIST_PATH, MESSAGES_SENT_PATH, until

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
ALLOW_HEADERS = (
    "Origin, X-Requested-With, Content-Type, Accept, X-User-Id, X-Auth-Token, x-visitor-token, Authorization"
)
CORS_OFF = 'CORS not enabled. Go to "Admin > General > REST Api" to enable it.'
PREFLIGHT = {"Origin": "https://bi.example", "Access-Control-Request-Method": "GET"}


def set_cors(db, enabled, origins="*"):
    for key, value in (("API_Enable_CORS", enabled), ("API_CORS_Origin", origins)):
        db.rocketchat_settings.update_one({"_id": key}, {"$set": {"value": value}}, upsert=True)


async def test_cors_off_by_default_options_ok_and_a_preflight_405(client):
    response = await client.options(MESSAGES_SENT_PATH)
    assert (response.status, await response.text()) == (200, "OK")
    response = await client.options(MESSAGES_SENT_PATH, headers=PREFLIGHT)
    assert (response.status, await response.text()) == (405, CORS_OFF)
    response = await client.get(
        MESSAGES_SENT_PATH, params=PARAMS, headers={**ADMIN_HEADERS, "Origin": "https://x.example"}
    )
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers


async def test_any_origin_every_api_answer_carries_the_headers(client, db):
    set_cors(db, True, "*")
    for path in (MESSAGES_SENT_PATH, "/api/v1/engagement-dashboard/no-such-thing", "/api/openapi.json"):
        response = await client.options(path, headers=PREFLIGHT)
        assert (response.status, await response.text()) == (200, "OK"), path
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
        assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE, HEAD, PATCH"
    answers = [
        await client.get(MESSAGES_SENT_PATH, params=PARAMS),  # 401
        await client.get(MESSAGES_SENT_PATH, params=PARAMS, headers=ADMIN_HEADERS),  # 200
        await client.get(CHANNELS_LIST_PATH, params={**PARAMS, "format": "csv"}, headers=ADMIN_HEADERS),  # streamed
        await client.get(MESSAGES_SENT_PATH, params={"start": "x"}, headers=ADMIN_HEADERS),  # 400
    ]
    assert [r.status for r in answers] == [401, 200, 200, 400]
    for response in answers:
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Access-Control-Allow-Headers"] == ALLOW_HEADERS
    for path in ("/healthz", "/dashboard/"):  # not API paths: never
        assert "Access-Control-Allow-Origin" not in (await client.get(path)).headers


async def test_listed_origins_are_echoed_and_others_refused(client, db):
    set_cors(db, True, "https://chat.example, https://BI.example")
    response = await client.get(
        MESSAGES_SENT_PATH, params=PARAMS, headers={**ADMIN_HEADERS, "Origin": "https://bi.example"}
    )
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://bi.example"
    assert response.headers["Vary"] == "Origin"
    response = await client.options(MESSAGES_SENT_PATH, headers=PREFLIGHT)
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "https://bi.example"
    for method in ("GET", "OPTIONS"):
        response = await client.request(
            method, MESSAGES_SENT_PATH, headers={**ADMIN_HEADERS, "Origin": "https://evil.example"}
        )
        assert (response.status, await response.text()) == (403, "Invalid origin"), method
        assert "Access-Control-Allow-Origin" not in response.headers
    # without an Origin (a script, a proxy, curl) nothing is refused
    response = await client.get(MESSAGES_SENT_PATH, params=PARAMS, headers=ADMIN_HEADERS)
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers


async def test_a_change_of_the_settings_applies_within_seconds(client, db):
    assert (await client.options(MESSAGES_SENT_PATH, headers=PREFLIGHT)).status == 405
    set_cors(db, True)
    changed = time.monotonic()

    async def preflight_ok():
        return (await client.options(MESSAGES_SENT_PATH, headers=PREFLIGHT)).status == 200

    assert await until(preflight_ok, seconds=10)
    print(f"CORS followed the setting after {time.monotonic() - changed:.2f} s")
    set_cors(db, False)

    async def preflight_refused():
        return (await client.options(MESSAGES_SENT_PATH, headers=PREFLIGHT)).status == 405

    assert await until(preflight_refused, seconds=10)

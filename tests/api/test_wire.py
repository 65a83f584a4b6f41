"""Rocket.Chat's wire on every answer: `application/json` without a charset, its 401 body, `no-store` with
`Pragma: no-cache` on route answers (errors of every kind included), and nosniff everywhere."""

from __future__ import annotations

import pytest

from engagement_svc.api import pipeline
from tests.support.data import ADMIN_HEADERS, USER_ID, USER_TOKEN
from tests.support.http import MESSAGES_SENT_PATH

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
LOGGED_OUT = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}


def assert_route_headers(response):
    assert response.headers["Content-Type"] == "application/json"  # no charset, as Rocket.Chat
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_answers_of_every_status_follow_the_wire(client):
    cases = [
        (200, {"params": PARAMS, "headers": ADMIN_HEADERS}),
        (400, {"params": {"start": "x"}, "headers": ADMIN_HEADERS}),
        (401, {"params": PARAMS}),
        (403, {"params": PARAMS, "headers": {"X-User-Id": USER_ID, "X-Auth-Token": USER_TOKEN}}),
    ]
    for status, kwargs in cases:
        response = await client.get(MESSAGES_SENT_PATH, **kwargs)
        assert response.status == status
        assert_route_headers(response)
        if status == 401:
            assert await response.json() == LOGGED_OUT


async def test_routing_errors_follow_the_wire_and_name_the_path_safely(client):
    response = await client.post(MESSAGES_SENT_PATH)
    assert response.status == 405 and response.headers["Allow"]
    assert_route_headers(response)
    response = await client.get("/api/v1/<script>alert(1)</script>" + "x" * 500)
    assert response.status == 404
    assert_route_headers(response)
    error = (await response.json())["error"]
    assert "<" not in error and len(error) < 240 and error.startswith("Not found: GET /api/v1/?script?alert(1)")


async def test_an_unexpected_error_is_a_500_that_is_never_kept(client, monkeypatch, caplog):
    def broken(query, accept):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline, "wants_csv", broken)
    response = await client.get(MESSAGES_SENT_PATH, params=PARAMS, headers=ADMIN_HEADERS)
    assert (response.status, await response.json()) == (500, {"success": False, "error": "Internal server error"})
    assert_route_headers(response)
    assert "Traceback" not in caplog.text and "a bug" not in caplog.text


@pytest.mark.parametrize("path", ["/healthz", "/api/openapi.json"])
async def test_the_services_own_json_has_no_charset_either(client, path):
    response = await client.get(path)
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"

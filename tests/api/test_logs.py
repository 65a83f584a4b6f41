"""One JSON line per request with its id; no token, auth header or user secret in any log line."""

from __future__ import annotations

import json
import logging

from engagement_svc.logs import JsonFormatter
from engagement_svc.rocketchat.auth import hash_token
from tests.support.data import ADMIN_HEADERS, ADMIN_TOKEN, USER_TOKEN
from tests.support.http import get_messages_sent

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}


def access_lines(caplog):
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "engagement_svc.access"]


async def test_one_json_line_per_request_with_its_id(client, caplog):
    caplog.set_level(logging.INFO)
    response = await client.get(
        "/api/v1/engagement-dashboard/messages/messages-sent",
        params=PARAMS,
        headers=ADMIN_HEADERS | {"X-Request-Id": "trace-42"},
    )
    assert response.status == 200 and response.headers["X-Request-Id"] == "trace-42"
    response = await client.get("/nope")
    generated = response.headers["X-Request-Id"]
    assert response.status == 404 and len(generated) == 32
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert response.headers["X-Request-Id"] != "bad id with spaces"
    lines = access_lines(caplog)
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/api/v1/engagement-dashboard/messages/messages-sent", 200),
        ("GET", "/nope", 404),
        ("GET", "/healthz", 200),
    ]
    assert lines[0]["request_id"] == "trace-42" and lines[1]["request_id"] == generated
    assert all(isinstance(x["duration_ms"], float) and x["level"] == "INFO" for x in lines)


async def test_no_secret_reaches_a_log(client, caplog):
    caplog.set_level(logging.DEBUG)
    await get_messages_sent(client, PARAMS)
    await get_messages_sent(client, PARAMS, {"X-User-Id": "AdminUserId000001", "X-Auth-Token": "wrong-secret"})
    await get_messages_sent(client, PARAMS, {"X-User-Id": "PlainUserId000001", "X-Auth-Token": USER_TOKEN})
    await get_messages_sent(client, {"start": "bad"})
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(r) for r in caplog.records) + caplog.text
    for secret in (ADMIN_TOKEN, USER_TOKEN, "wrong-secret", hash_token(ADMIN_TOKEN), hash_token(USER_TOKEN)):
        assert secret not in text
    assert "X-Auth-Token" not in text and "Traceback" not in text

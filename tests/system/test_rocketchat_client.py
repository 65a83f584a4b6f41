"""Rocket.Chat's own REST client, `@rocket.chat/api-client` (pinned in tests/rocketchat_client/), against the
running service: it signs with X-User-Id / X-Auth-Token, parses every answer, and meets 401, 403, 400 and 429 as
it meets them from Rocket.Chat.

npm installs the pinned lockfile into a temporary folder (never into the checkout), node runs calls.mjs there;
each call the client made is then made again with urllib, with the same path, query string and headers, and the
two answers must be the same. (package.json says why it overrides one version: the client as published does not
install with npm.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymongo import MongoClient

from engagement_svc.api.routes import REPORTS
from engagement_svc.reports.report import DASHBOARD as API
from tests.support.data import ANALYST, add_analysts, seed_workspace
from tests.support.live import LiveServer
from tests.support.mongo import with_database

CLIENT = Path(__file__).resolve().parents[1] / "rocketchat_client"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are needed to run Rocket.Chat's REST client: install Node.js 20 or later with npm "
    "(apt-get install nodejs npm, or https://nodejs.org)",
)


@pytest.fixture(scope="module")
def client_folder() -> Iterator[Path]:
    """The pinned client installed from the lockfile into a temporary folder, with the script beside it."""
    with tempfile.TemporaryDirectory(prefix="engagement-rc-client-") as temp:
        folder = Path(temp)
        for name in ("package.json", "package-lock.json", "calls.mjs"):
            shutil.copy(CLIENT / name, folder / name)
        done = subprocess.run(
            [NPM, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        yield folder


@pytest.fixture(scope="module")
def live(mongo_url) -> Iterator[LiveServer]:
    """a served workspace with an admin, a user without the permission and an analyst limited to 2 calls."""
    mongo = MongoClient(mongo_url, tz_aware=True)
    name = "rc_client_" + datetime.now(UTC).strftime("%H%M%S%f")
    db = mongo[name]
    try:
        creds = seed_workspace(db, days=30, per_day=40)
        add_analysts(db, (ANALYST, "analyst"))
        with LiveServer(
            with_database(mongo_url, name),
            ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, name + "_state"),
            ENGAGEMENT_QUERY_TIMEOUT_MS="20000",
            ENGAGEMENT_RATE_LIMIT_CALLS="2",
            ENGAGEMENT_RATE_LIMIT_SECONDS="600",  # no window ends while the test runs
        ) as server:
            server.credentials = {
                "admin": {"X-User-Id": creds.admin_id, "X-Auth-Token": creds.admin_token},
                "plain user": {"X-User-Id": creds.user_id, "X-Auth-Token": creds.user_token},
                "rate-limited": ANALYST,
                "wrong token": {"X-User-Id": creds.admin_id, "X-Auth-Token": "not-the-token"},
            }
            yield server
            log = server.output()
        assert "Traceback" not in log, log[-3000:]
    finally:
        mongo.drop_database(name)
        mongo.drop_database(name + "_state")
        mongo.close()


@pytest.fixture(scope="module")
def calls(client_folder, live) -> dict[str, dict]:
    """What the client got from each call, by the call's name, in the order made."""
    env = {**os.environ, "TZ": "UTC", "ENGAGEMENT_CLIENT_USERS": json.dumps(live.credentials)}
    done = subprocess.run(
        [NODE, "calls.mjs", live.base_url], cwd=client_folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"node failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return {line["name"]: line for line in lines}


def direct(live: LiveServer, call: dict) -> tuple[int, dict]:
    """The same request as the client's (its path and query string, byte for byte; its user), made with urllib."""
    assert call["sent"].startswith(call["path"] + "?"), call  # the client's endpoint, its query string after it
    request = urllib.request.Request(live.base_url + "/api" + call["sent"], headers=live.credentials[call["as"]])
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def rejected(call: dict) -> tuple[int, dict]:
    """(status, body) of the fetch Response the client rejected with; a call it failed on itself (a body it could
    not parse, say) has `thrown` instead, and fails here with the line."""
    assert call["ok"] is False and "thrown" not in call and "text" not in call, call
    return call["status"], call["body"]


DASHBOARD = ("messages-sent", "origin", "top-five", "new-users", "active-users", "by-hour", "hourly", "weekly")
DASHBOARD += ("channels",)


# The service's own endpoints, which Rocket.Chat's client does not call.
EXTENSIONS = ("/users/posting-users", "/users/clients", "/users/members", "/teams", "/channels/room")


def test_client_reads_all_nine_endpoints_as_served(calls, live):
    rocketchat = [r for r in REPORTS if not r.path.endswith(EXTENSIONS)]
    assert {calls[name]["path"] for name in DASHBOARD} == {r.path.removeprefix("/api") for r in rocketchat}
    assert len(rocketchat) == 9 and all(r.path.startswith(API) for r in REPORTS)
    for name in DASHBOARD:
        call = calls[name]
        assert call["ok"] is True, call  # resolved: a 2xx, parsed by the client
        assert direct(live, call) == (200, call["result"]), name
        assert call["result"]["success"] is True
    # Not empty answers compared with empty ones: the workspace's week has messages, users and sessions.
    assert sum(day["messages"] for day in calls["messages-sent"]["result"]["days"]) > 0
    assert calls["channels"]["result"]["total"] > 0 and calls["top-five"]["result"]["channels"]
    assert any(day["users"] for day in calls["active-users"]["result"]["month"])
    # The dates went out as the page sends them: JavaScript ISO strings, percent-encoded by the client.
    assert "start=20" in calls["messages-sent"]["sent"] and "T00%3A00%3A00.000Z" in calls["messages-sent"]["sent"]


def test_client_rejects_errors_with_rocket_chats_bodies(calls, live):
    login = "You must be logged in to do this."
    expected = {
        "wrong token": (401, {"success": False, "error": login, "status": "error", "message": login}),
        "no permission": (
            403,
            {
                "success": False,
                "error": "User does not have the permissions required for this action [error-unauthorized]",
            },
        ),
    }
    for name, (status, body) in expected.items():
        call = calls[name]
        assert rejected(call) == (status, body) and call["contentType"] == "application/json", call
        assert direct(live, call) == (status, body)
    bad = calls["bad start"]  # the client reads a 400's body (a two-factor challenge?) before rejecting
    assert rejected(bad)[0] == 400 and bad["contentType"] == "application/json", bad
    assert bad["body"]["success"] is False and bad["body"]["error"].startswith("Match error:"), bad
    assert set(bad["body"]) == {"success", "error"}
    assert direct(live, bad) == (400, bad["body"])


def test_client_meets_the_rate_limit_as_from_rocket_chat(calls):
    first, second, third = (calls[f"rate-limited {i}"] for i in (1, 2, 3))
    assert first["ok"] and second["ok"] and first["result"] == second["result"] == calls["new-users"]["result"]
    assert rejected(third)[0] == 429, third
    wait = int(third["headers"]["retry-after"])  # whole seconds left in the window, rounded up
    assert 590 <= wait <= 600
    assert third["body"] == {
        "success": False,
        "error": f"Error, too many requests. Please slow down. You must wait {wait} seconds before trying this "
        "endpoint again. [error-too-many-requests]",
    }
    headers = third["headers"]
    assert headers["x-ratelimit-limit"] == "2" and headers["x-ratelimit-remaining"] == "0"
    assert int(headers["x-ratelimit-reset"]) > datetime.now(UTC).timestamp() * 1000  # epoch milliseconds

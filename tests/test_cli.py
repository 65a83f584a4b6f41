"""`engagement-svc digest`: the posted message's shape and numbers (equal to the API's for the same days, and to the
oracle's for messages and new users), --dry-run posting nothing, giving up with a message without the token, and
bad arguments refused with exit code 2."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.app import create_app
from engagement_svc.cli import digest
from tests.support.data import seed_workspace
from tests.support.digest import api_figures, api_rooms, days_of, posted_fields, range_params, shown_change
from tests.support.oracle import expected_messages_sent, expected_new_users
from tests.support.webhook import HOOK_ID, HOOK_TOKEN, Receiver


@pytest.fixture
async def receiver(aiohttp_server):
    return await Receiver().start(aiohttp_server)


@pytest.fixture
def seeded(db):
    return seed_workspace(db, days=75, per_day=40)


def written(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}"


@pytest.mark.parametrize("period, zone_name", [("7d", "Europe/Berlin"), ("30d", "America/New_York")])
async def test_the_posted_digest_says_what_the_api_and_the_oracle_say(
    aiohttp_client, db, settings, seeded, receiver, caplog, period, zone_name
):
    caplog.set_level(logging.DEBUG)
    now = datetime.now(UTC)
    assert await digest(settings, period, zone_name, receiver.url, now=now) == 0
    (message,) = receiver.received
    assert set(message) == {"text", "attachments"}
    assert [a["title"] for a in message["attachments"]] == ["Activity", "Top five rooms"]
    for attachment in message["attachments"]:
        assert all(set(f) == {"title", "value", "short"} for f in attachment["fields"])
    zone = ZoneInfo(zone_name)
    first, last = days_of(period, zone, now)
    assert f"{first.isoformat()} to {last.isoformat()} ({zone_name})" in message["text"]

    client = await aiohttp_client(create_app(settings))
    headers = {"X-User-Id": seeded.admin_id, "X-Auth-Token": seeded.admin_token}
    expected = await api_figures(client, headers, first, last, zone)
    fields = posted_fields(message)
    assert set(fields) == set(expected)
    for title, (value, previous) in expected.items():
        decimals = 1 if title.startswith("DAU") else 0
        relative = title not in ("Silent channels", "Dormant seats")
        assert fields[title] == (written(value, decimals), shown_change(value, previous, relative)), title
    assert expected["Messages"][0] > 0 and expected["DAU (average per day)"][0] > 0  # numbers worth comparing

    # Messages and new users once more, against the brute-force recount.
    params = range_params(first, last, zone)
    start, end = (datetime.fromisoformat(params[k].replace("Z", "+00:00")) for k in ("start", "end"))
    for title, oracle in (("Messages", expected_messages_sent), ("New users", expected_new_users)):
        counted = oracle(db, start, end, zone_name)["period"]
        assert expected[title] == (counted["count"], counted["count"] - counted["variation"]), title

    top = message["attachments"][1]["fields"]
    rooms = await api_rooms(client, headers, first, last, zone)
    assert len(top) == len(rooms) > 0
    for i, (field, (row, previous)) in enumerate(zip(top, rooms, strict=True), 1):
        name = "a direct conversation" if row["t"] == "d" else row["name"]
        shown = f"{i}. {'#' if row['t'] == 'c' else ''}{name}{' (private)' if row['t'] == 'p' else ''}"
        assert field["title"] == shown
        assert field["value"] == f"{written(row['messages'])} messages ({shown_change(row['messages'], previous)})"
    assert HOOK_TOKEN not in caplog.text and "Traceback" not in caplog.text


def environment(settings) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    return clean | {"MONGO_URL": settings.mongo_url, "ENGAGEMENT_STATE_MONGO_URL": state_url(settings)}


def state_url(settings) -> str:
    return settings.mongo_url.rsplit("/", 1)[0] + "/" + settings.state_database


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The command in a child process, awaited (the test's webhook keeps answering meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engagement_svc", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    return process.returncode, out.decode(), err.decode()


async def test_dry_run_prints_the_message_and_posts_nothing(settings, seeded, receiver):
    code, out, err = await run_cli("digest", "--webhook", receiver.url, "--dry-run", env=environment(settings))
    assert code == 0, err
    message = json.loads(out)
    assert set(message) == {"text", "attachments"} and posted_fields(message)["Messages"][0] != "0"
    assert receiver.received == []
    assert HOOK_TOKEN not in out + err


async def test_gives_up_cleanly_without_the_token(settings, seeded, receiver):
    receiver.statuses = [500] * 5
    code, out, err = await run_cli("digest", "--webhook", receiver.url, "--attempts", "2", env=environment(settings))
    assert code == 1
    assert len(receiver.received) == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("engagement-svc digest: not posted to") and "HTTP 500" in last
    assert f"/hooks/{HOOK_ID}/***" in last
    assert HOOK_TOKEN not in out + err and "Traceback" not in err


async def test_posts_and_says_where(settings, seeded, receiver):
    code, out, err = await run_cli("digest", "--webhook", receiver.url, "--period", "30d", env=environment(settings))
    assert code == 0, err
    assert len(receiver.received) == 1 and "30 days" in receiver.received[0]["text"]
    assert f"/hooks/{HOOK_ID}/***" in out and HOOK_TOKEN not in out + err


@pytest.mark.parametrize(
    "args, needle",
    [
        ([], "--webhook URL is required"),
        (["--webhook", "ftp://chat.example/hooks/a/" + HOOK_TOKEN], "must be an http:// or https:// URL"),
        (["--webhook", "https://chat.example/hooks/a/b", "--period", "2w"], "invalid choice"),
        (["--webhook", "https://chat.example/hooks/a/b", "--timezone", "Mars/Olympus"], "IANA time zone"),
        (["--webhook", "https://chat.example/hooks/a/b", "--attempts", "0"], "from 1 to 10"),
        (["--webhook", "https://chat.example/hooks/a/b", "--days", "3"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args, needle):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    out = subprocess.run(
        [sys.executable, "-m", "engagement_svc", "digest", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and needle in out.stderr and HOOK_TOKEN not in out.stderr
    assert "Traceback" not in out.stderr


def test_without_mongo_url_exit_2():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    out = subprocess.run(
        [sys.executable, "-m", "engagement_svc", "digest", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "MONGO_URL is not set" in out.stderr


def test_help_describes_the_digest():
    out = subprocess.run([sys.executable, "-m", "engagement_svc", "--help"], capture_output=True, text=True, timeout=60)
    assert "digest" in out.stdout
    sub = subprocess.run(
        [sys.executable, "-m", "engagement_svc", "digest", "--help"], capture_output=True, text=True, timeout=60
    )
    for word in ("--webhook", "--period", "--timezone", "--dry-run", "--attempts", "ENGAGEMENT_DIGEST_WEBHOOK"):
        assert word in sub.stdout


async def test_a_period_longer_than_the_settings_allow_exits_2(settings):
    env = environment(settings) | {"ENGAGEMENT_MAX_RANGE_DAYS": "7"}
    code, _, err = await run_cli("digest", "--dry-run", "--period", "30d", env=env)
    assert code == 2 and "at most 7 days" in err and "Traceback" not in err

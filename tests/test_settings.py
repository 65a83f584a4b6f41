"""Settings from the environment, and the command line's help and its one-line failures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engagement_svc.settings import ConfigError, Settings

BASE = {"MONGO_URL": "mongodb://db.example:27017/rocketchat?replicaSet=rs0"}


def test_defaults():
    s = Settings.from_env(BASE)
    assert (s.database, s.host, s.port, s.timezone, s.max_range_days, s.query_timeout_ms) == (
        "rocketchat",
        "127.0.0.1",
        8080,
        "UTC",
        732,
        10_000,
    )


@pytest.mark.parametrize(
    "url, database",
    [
        ("mongodb://h1:27017,h2:27017/chat?replicaSet=rs0&readPreference=secondaryPreferred", "chat"),
        ("mongodb://user:pa%40ss@h/parties", "parties"),
        ("mongodb://h:27017", "rocketchat"),
        ("mongodb://h:27017/", "rocketchat"),
        ("mongodb://h/?replicaSet=rs0", "rocketchat"),
        ("mongodb+srv://cluster.example.net/rc?retryWrites=true", "rc"),
    ],
)
def test_database_comes_from_the_url_path(url, database):
    assert Settings.from_env({"MONGO_URL": url}).database == database


def test_all_settings_are_read():
    s = Settings.from_env(
        BASE
        | {
            "ENGAGEMENT_HOST": "0.0.0.0",
            "ENGAGEMENT_PORT": "9000",
            "ENGAGEMENT_TIMEZONE": "America/Sao_Paulo",
            "ENGAGEMENT_MAX_RANGE_DAYS": "31",
            "ENGAGEMENT_QUERY_TIMEOUT_MS": "2500",
            "ENGAGEMENT_STATE_MONGO_URL": "mongodb://state:27017/counts",
            "ENGAGEMENT_CLOSE_GRACE_SECONDS": "60",
            "ENGAGEMENT_FRESHNESS_MS": "1500",
            "ENGAGEMENT_SWEEP_SECONDS": "30",
            "ENGAGEMENT_WARM_DAYS": "0",
        }
    )
    assert (s.host, s.port, s.timezone, s.max_range_days, s.query_timeout_ms) == (
        "0.0.0.0",
        9000,
        "America/Sao_Paulo",
        31,
        2500,
    )
    assert (
        s.state_mongo_url,
        s.state_database,
        s.close_grace_seconds,
        s.freshness_ms,
        s.sweep_seconds,
        s.warm_days,
    ) == ("mongodb://state:27017/counts", "counts", 60, 1500, 30, 0)
    assert Settings.from_env(BASE).state_database == "engagement_svc"
    assert Settings.from_env(BASE | {"ENGAGEMENT_STATE_MONGO_URL": "mongodb://s:1"}).state_database == "engagement_svc"


@pytest.mark.parametrize(
    "env, needle",
    [
        ({}, "MONGO_URL is not set"),
        ({"MONGO_URL": "   "}, "MONGO_URL is not set"),
        ({"MONGO_URL": "postgres://h/db"}, "MONGO_URL must start with"),
        ({"MONGO_URL": "mongodb:///rocketchat"}, "MONGO_URL must start with"),
        ({"MONGO_URL": "mongodb://h/bad.name"}, "invalid database"),
        (BASE | {"ENGAGEMENT_PORT": "eighty"}, "ENGAGEMENT_PORT must be a whole number"),
        (BASE | {"ENGAGEMENT_PORT": "70000"}, "ENGAGEMENT_PORT must be between 0 and 65535"),
        (BASE | {"ENGAGEMENT_TIMEZONE": "Mars/Olympus"}, "ENGAGEMENT_TIMEZONE must be an IANA time zone"),
        (BASE | {"ENGAGEMENT_MAX_RANGE_DAYS": "0"}, "ENGAGEMENT_MAX_RANGE_DAYS must be between 1"),
        (BASE | {"ENGAGEMENT_QUERY_TIMEOUT_MS": "1.5"}, "ENGAGEMENT_QUERY_TIMEOUT_MS must be a whole number"),
        (BASE | {"ENGAGEMENT_QUERY_TIMEOUT_MS": "-1"}, "ENGAGEMENT_QUERY_TIMEOUT_MS must be between 1"),
        (BASE | {"ENGAGEMENT_STATE_MONGO_URL": "redis://h/x"}, "ENGAGEMENT_STATE_MONGO_URL must start with"),
        (BASE | {"ENGAGEMENT_CLOSE_GRACE_SECONDS": "-5"}, "ENGAGEMENT_CLOSE_GRACE_SECONDS must be between 0"),
        (BASE | {"ENGAGEMENT_FRESHNESS_MS": "soon"}, "ENGAGEMENT_FRESHNESS_MS must be a whole number"),
        (BASE | {"ENGAGEMENT_SWEEP_SECONDS": "0"}, "ENGAGEMENT_SWEEP_SECONDS must be between 1"),
        (BASE | {"ENGAGEMENT_WARM_DAYS": "-1"}, "ENGAGEMENT_WARM_DAYS must be between 0"),
    ],
)
def test_bad_settings_are_refused(env, needle):
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env)


def test_password_never_echoed():
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"MONGO_URL": "mongodb://admin:hunter2@h/bad.name"})
    assert "hunter2" not in str(exc.value)


def run_cli(*args, env=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    return subprocess.run(
        [sys.executable, "-m", "engagement_svc", *args],
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_commands_and_settings():
    out = run_cli("--help")
    assert out.returncode == 0
    for word in (
        "serve",
        "demo",
        "ENGAGEMENT_LOG_LEVEL",
        "MONGO_URL",
        "ENGAGEMENT_QUERY_TIMEOUT_MS",
        "ENGAGEMENT_TIMEZONE",
        "ENGAGEMENT_STATE_MONGO_URL",
        "ENGAGEMENT_CLOSE_GRACE_SECONDS",
        "ENGAGEMENT_FRESHNESS_MS",
        "ENGAGEMENT_SWEEP_SECONDS",
        "ENGAGEMENT_WARM_DAYS",
    ):
        assert word in out.stdout
    for command in ("serve", "demo"):
        sub = run_cli(command, "--help")
        assert sub.returncode == 0 and "--port" in sub.stdout and "MONGO_URL" in sub.stdout


@pytest.mark.parametrize(
    "env, needle",
    [
        ({}, "MONGO_URL is not set"),
        ({"MONGO_URL": "mongodb://h/rc", "ENGAGEMENT_TIMEZONE": "Nowhere/Land"}, "ENGAGEMENT_TIMEZONE"),
    ],
)
def test_serve_with_bad_settings_stops_with_one_line(env, needle):
    out = run_cli("serve", env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("engagement-svc: ")
    assert "Traceback" not in out.stderr


def test_bad_log_level_stops_with_one_line():
    out = run_cli("serve", env={"MONGO_URL": "mongodb://h/rc", "ENGAGEMENT_LOG_LEVEL": "chatty"})
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "ENGAGEMENT_LOG_LEVEL" in out.stderr


def readme_table() -> str:
    from pathlib import Path

    from engagement_svc.settings import README_MARKERS

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return text.split(README_MARKERS[0], 1)[1].split(README_MARKERS[1], 1)[0]


def test_every_setting_is_documented_in_the_readme_and_the_help():
    from engagement_svc.settings import TABLE, markdown_list

    assert readme_table() == markdown_list(), "README's settings list is stale: run `make readme`"
    help_text = run_cli("--help").stdout
    for setting in TABLE:
        assert setting.variable in help_text and setting.help, setting.variable


def test_digest_settings():
    s = Settings.from_env(BASE)
    assert (s.digest_webhook, s.digest_period, s.digest_weekday, s.digest_hour) == ("", "7d", "monday", 9)
    s = Settings.from_env(
        BASE
        | {
            "ENGAGEMENT_DIGEST_WEBHOOK": "https://chat.example/hooks/abc/tok",
            "ENGAGEMENT_DIGEST_PERIOD": "30D",
            "ENGAGEMENT_DIGEST_WEEKDAY": "Friday",
            "ENGAGEMENT_DIGEST_HOUR": "17",
        }
    )
    assert (s.digest_webhook, s.digest_period, s.digest_weekday, s.digest_hour) == (
        "https://chat.example/hooks/abc/tok",
        "30d",
        "friday",
        17,
    )


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"ENGAGEMENT_DIGEST_WEBHOOK": "chat.example/hooks/abc/s3cret"}, "ENGAGEMENT_DIGEST_WEBHOOK must be an http"),
        ({"ENGAGEMENT_DIGEST_WEBHOOK": "https://:99999/hooks/abc/s3cret"}, "ENGAGEMENT_DIGEST_WEBHOOK must be an http"),
        ({"ENGAGEMENT_DIGEST_PERIOD": "14d"}, "ENGAGEMENT_DIGEST_PERIOD must be one of 7d, 30d"),
        ({"ENGAGEMENT_DIGEST_WEEKDAY": "mon"}, "ENGAGEMENT_DIGEST_WEEKDAY must be one of monday"),
        ({"ENGAGEMENT_DIGEST_HOUR": "24"}, "ENGAGEMENT_DIGEST_HOUR must be between 0 and 23"),
    ],
)
def test_bad_digest_settings_are_refused_without_echoing_the_webhook(env, needle):
    with pytest.raises(ConfigError, match=needle) as exc:
        Settings.from_env(BASE | env)
    assert "s3cret" not in str(exc.value)

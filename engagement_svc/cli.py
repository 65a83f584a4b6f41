"""The `engagement-svc` command: `serve` against a Rocket.Chat MongoDB, `demo` on an embedded one."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp import web

from engagement_svc import __version__
from engagement_svc.config import ConfigError, Settings
from engagement_svc.counts import iso_z
from engagement_svc.logs import LEVELS, configure
from engagement_svc.routes import MESSAGES_SENT_PATH, create_app

ENVIRONMENT_HELP = """\
environment:
  MONGO_URL                    Rocket.Chat's MongoDB URL; its path names the database (default rocketchat)
  ENGAGEMENT_HOST              address to listen on (default 127.0.0.1)
  ENGAGEMENT_PORT              port to listen on (default 8080)
  ENGAGEMENT_TIMEZONE          IANA zone for days when a request gives no timezone (default UTC)
  ENGAGEMENT_MAX_RANGE_DAYS    longest range a request may ask for, in days (default 732)
  ENGAGEMENT_QUERY_TIMEOUT_MS  time limit for all database work of one request (default 10000)
  ENGAGEMENT_STATE_MONGO_URL   where the service keeps its own state (default: MONGO_URL's server,
                               database engagement_svc)
  ENGAGEMENT_CLOSE_GRACE_SECONDS  a day is closed and counted once this long after its end (default 600)
  ENGAGEMENT_FRESHNESS_MS      most an open day may lag without a change stream (default 5000)
  ENGAGEMENT_SWEEP_SECONDS     how often kept days are checked for deletions (default 300)
  ENGAGEMENT_WARM_DAYS         closed days counted in the background at start-up (default 180)
  ENGAGEMENT_RATE_LIMIT_CALLS  calls a user may make per window, as Rocket.Chat's API rate limiter
                               (default 10; 0 turns it off; api-bypass-rate-limit holders are exempt)
  ENGAGEMENT_RATE_LIMIT_SECONDS  the rate limit's window (default 60)
  ENGAGEMENT_DRAIN_SECONDS     on SIGTERM, how long requests in flight may take to finish (default 30)
  ENGAGEMENT_LOG_LEVEL         DEBUG, INFO (default: one JSON line per request), WARNING or ERROR

endpoints (no credentials needed but for the first):
  GET /api/v1/engagement-dashboard/messages/messages-sent   X-User-Id and X-Auth-Token headers
  GET /healthz   GET /readyz   GET /metrics (Prometheus)   GET /api/openapi.json (OpenAPI 3.1)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-svc",
        description="Rocket.Chat Engagement Dashboard answers, counted exactly from a Rocket.Chat MongoDB.",
        epilog=ENVIRONMENT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"engagement-svc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (
        ("serve", "serve the API against the Rocket.Chat MongoDB named by MONGO_URL"),
        ("demo", "start an embedded mongod, fill it with a realistic demo Rocket.Chat dataset and serve it; "
                 "Ctrl-C stops mongod and removes its data"),
    ):
        sub = commands.add_parser(name, help=text, description=text, epilog=ENVIRONMENT_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--host", help="address to listen on (overrides ENGAGEMENT_HOST)")
        sub.add_argument("--port", type=int, help="port to listen on (overrides ENGAGEMENT_PORT)")
    from engagement_svc.bench import __doc__ as bench_doc, build_parser as bench_parser
    bench_parser(commands.add_parser(
        "bench", help="measure the service against the floor, Rocket.Chat's own query and a minimal handler",
        description=bench_doc, epilog="BENCH_MONGO_URL: use that MongoDB server instead of an embedded one "
        "(whose data stays in bench/data, so the dataset is generated once).",
        formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = os.environ.get("ENGAGEMENT_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in LEVELS:
        print(f"engagement-svc: ENGAGEMENT_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}", file=sys.stderr)
        return 2
    configure(level)
    try:
        if args.command == "serve":
            return serve(_overrides(Settings.from_env(), args))
        if args.command == "bench":
            from engagement_svc.bench import run
            return run(args)
        return demo(args)
    except ConfigError as exc:
        print(f"engagement-svc: {exc}", file=sys.stderr)
        return 2


def _overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    return replace(settings, host=args.host or settings.host,
                   port=settings.port if args.port is None else args.port)


def serve(settings: Settings, banner: str = "") -> int:
    def ready(_message: str) -> None:
        print(f"engagement-svc {__version__} listening on http://{settings.host}:{settings.port} "
              f"(database {settings.database!r}, zone {settings.timezone})", flush=True)
        if banner:
            print(banner, flush=True)
    try:
        # SIGTERM or SIGINT: stop listening, let requests in flight finish (at most drain_seconds), then close.
        web.run_app(create_app(settings), host=settings.host, port=settings.port, print=ready,
                    access_log=None, handle_signals=True, shutdown_timeout=settings.drain_seconds)
    except OSError as exc:
        print(f"engagement-svc: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def curl_line(settings: Settings, user_id: str, token: str, start: datetime, end: datetime, zone: str = "") -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}{MESSAGES_SENT_PATH}?start={iso_z(start)}&end={iso_z(end)}"
    if zone:
        url += f"&timezone={zone}"
    return (f"curl -s -H {shlex.quote('X-User-Id: ' + user_id)} -H {shlex.quote('X-Auth-Token: ' + token)} "
            f"{shlex.quote(url)}")


def demo(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from engagement_svc.demo_data import seed_demo
    from engagement_svc.embedded import EmbeddedMongo, EmbeddedMongoError

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
        client = MongoClient(mongo.url, tz_aware=True)
        creds = seed_demo(client.rocketchat, now=now)
        client.close()
        settings = _overrides(replace(env_settings, mongo_url=mongo.url_for("rocketchat")), args)
        week_start = datetime.combine((now - timedelta(days=6)).date(), datetime.min.time(), tzinfo=UTC)
        banner = "\n".join([
            f"demo: embedded mongod on 127.0.0.1:{mongo.port} with {creds.messages} Rocket.Chat messages "
            f"over 240 days (data in {mongo.dbpath}, removed on exit)",
            "", "# the last 7 days, as the admin (200):",
            curl_line(settings, creds.admin_id, creds.admin_token, week_start, now),
            "", "# the last 240 days, days in Europe/Berlin across its DST changes (200):",
            curl_line(settings, creds.admin_id, creds.admin_token, now - timedelta(days=240), now, "Europe/Berlin"),
            "", "# a plain user without view-engagement-dashboard (403):",
            curl_line(settings, creds.user_id, creds.user_token, week_start, now),
            "", "Press Ctrl-C to stop.",
        ])
        return serve(settings, banner)
    finally:
        mongo.stop()

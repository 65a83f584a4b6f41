"""`make bench` (python -m bench.run): the service against the floor, the peer and the ceiling. Asserts nothing.

- floor: `count_documents` on the `{ts: 1}` index over the window a request reads (the range and the window
  before it), and the service's exact aggregation run directly through PyMongo over the same window;
- peer: Rocket.Chat's own query on its `rocketchat_analytics` counters for the same range (the period, then the
  previous window, as Rocket.Chat runs them);
- ceiling: a minimal aiohttp process that looks one user up by `_id` and returns a fixed body;
- the service: a real `engagement-svc serve` process on loopback, cold (fresh process, empty state) and warm,
  throughput at several concurrencies, freshness of a new message, and its peak RSS;
- the endpoints beyond the dashboard (bench/beyond.py: people posting, active users by client, the members
  table): each cold at 7 and 365 days beside the raw aggregation an admin would write, and warm;
- with --baseline, A/B against an older revision's code on the same data in the same run: messages-sent cold,
  warm, in a new zone, RSS and state; then all nine dashboard endpoints warm (p50, p95) at every range in
  Europe/Berlin (JSON, bots default) and each one's RSS after them; then the endpoints beyond the dashboard in each
  revision that serves them, and the RSS after every endpoint;
- issue 25 (bench/rooms.py): channels/room, a page of the silent list and a team's list, warm and cold beside one
  raw aggregation each, and the service's CPU per new message and the next channels/list request.
`--parts` runs some of these only (database, service, beyond, rooms; the A/B comes with --baseline).

The dataset (generated once in bench/data, or in BENCH_MONGO_URL, and reused): --messages messages over --days
days in --rooms rooms plus 50 livechat rooms (5% system messages, 1% hidden edit copies, 3% thread replies, a daily
and weekly rhythm), Rocket.Chat's `rocketchat_analytics` counters, 301 message authors, and 3,000 more users (2,000
created before the first day, 1,000 over the days; 0.5% bots) logging in about 600 times a day as Rocket.Chat
writes it into `rocketchat_sessions` (about 1,000 documents a day; added once to a dataset made without them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp  # the CLI imports aiohttp anyway (for serving), so this costs `--help` nothing

from engagement_svc.days import iso_z

RANGES = (7, 30, 90, 365)
CONCURRENCY = (1, 16, 64)
SOAK_CONCURRENCY = 64
PARTS = ("database", "service", "beyond", "rooms")
ZONE = "UTC"

CEILING_APP = """
import sys
from aiohttp import web
from pymongo import AsyncMongoClient

async def handler(request):
    db = request.app["client"].get_default_database()
    user = await db.users.find_one({"_id": request.headers.get("X-User-Id", "")}, {"username": 1})
    return web.json_response({"days": [], "period": {"count": 0, "variation": 0},
                              "yesterday": {"count": 0, "variation": 0}, "success": user is not None})

async def client_ctx(app):
    app["client"] = AsyncMongoClient(sys.argv[1])
    yield
    await app["client"].close()

app = web.Application()
app.cleanup_ctx.append(client_ctx)
app.router.add_get("/api/v1/engagement-dashboard/messages/messages-sent", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None, access_log=None)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2), "n": len(ms)}


def memory_mb(pid: int, field: str = "VmHWM") -> float | None:
    """The process's peak resident memory (VmHWM), or its current one (VmRSS), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def code_of(source: str) -> dict:
    """How to run the service from another checkout: `python -m` puts its working directory first on sys.path
    (before PYTHONPATH and the editable install), so that checkout's code runs only from inside it. Checked, not
    assumed."""
    if not source:
        return {}
    source = os.path.abspath(source)
    found = subprocess.run(
        [sys.executable, "-c", "import engagement_svc; print(engagement_svc.__file__)"],
        cwd=source,
        env={**os.environ, "PYTHONPATH": source},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not found.startswith(source + os.sep):
        raise RuntimeError(f"the code in {source} does not load from there ({found})")
    return {"cwd": source, "pythonpath": source}


class Server:
    """A child process serving HTTP on loopback, stopped on exit; `code` (see code_of) runs another checkout."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, code: dict | None = None):
        self.port = port
        code = code or {}
        if code:
            env = env | {"PYTHONPATH": code["pythonpath"]}
        # Its log goes to a file: a pipe nobody reads would fill up and stall the server under load.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=self.log, text=True, cwd=code.get("cwd")
        )

    async def ready(self, session, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read()[-2000:]}")
            try:
                async with session.get(
                    f"http://127.0.0.1:{self.port}/api/v1/engagement-dashboard/messages/messages-sent"
                ):
                    return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def write_report(output: Path, report: dict) -> None:
    """The figures as JSON, to the results file and to stdout."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=1))


def service_env(mongo_url_for, database: str) -> dict[str, str]:
    """The environment of a measured `engagement-svc serve`: the bench database, its own state database, no
    warming, no rate limit, long timeouts."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    return base | {
        "MONGO_URL": mongo_url_for(database),
        "ENGAGEMENT_STATE_MONGO_URL": mongo_url_for(database + "_state"),
        "ENGAGEMENT_QUERY_TIMEOUT_MS": "600000",
        "ENGAGEMENT_WARM_DAYS": "0",
        "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
    }


SERVE = [sys.executable, "-m", "engagement_svc", "serve", "--port"]


async def cold_ms(session, db, env: dict[str, str], target_of, headers: dict) -> float:
    """The first answer of a fresh process on an empty state database; `target_of(port)` is the URL."""
    from engagement_svc.demo.embedded import free_port

    db.client.drop_database(db.name + "_state")
    port = free_port()
    server = Server([*SERVE, str(port)], env, port)
    try:
        await server.ready(session)
        seconds, _ = await timed_read(session, target_of(port), headers)
    finally:
        server.stop()
    return round(seconds * 1000, 1)


async def cold_and_warm(args, session, db, env, endpoints, ranges, url_of, headers, after=None) -> dict:
    """Per endpoint and range: the cold first answer (`cold_ms`), then in one fresh process the warm p50/p95 of
    `args.warm_runs` repeats and the body's size; `after(server, port, out)` then measures more in that process.
    `url_of(port, endpoint, days)` is the URL."""
    from engagement_svc.demo.embedded import free_port

    out: dict = {"cold": {}, "warm": {}, "sizes": {}}
    for endpoint in endpoints:
        for days in ranges:
            ms = await cold_ms(session, db, env, lambda port: url_of(port, endpoint, days), headers)
            out["cold"].setdefault(endpoint, {})[str(days)] = ms
            args.progress(f"  cold {endpoint} {days}-day: {ms:.0f} ms")
    db.client.drop_database(db.name + "_state")
    port = free_port()
    server = Server([*SERVE, str(port)], env, port)
    try:
        await server.ready(session)
        for endpoint in endpoints:
            for days in ranges:
                target = url_of(port, endpoint, days)
                _, body = await timed_read(session, target, headers)
                samples = [(await timed_read(session, target, headers))[0] for _ in range(args.warm_runs)]
                out["warm"].setdefault(endpoint, {})[str(days)] = summary(samples)
                out["sizes"].setdefault(endpoint, {})[str(days)] = len(body)
                args.progress(f"  warm {endpoint} {days}-day: {summary(samples)} ({len(body):,} bytes)")
        if after is not None:
            await after(server, port, out)
        out["rss_mb_peak"] = memory_mb(server.process.pid, "VmHWM")
    finally:
        server.stop()
    return out


async def timed_read(session, url: str, headers: dict) -> tuple[float, bytes]:
    """One request that must answer 200: its time and its body."""
    began = time.perf_counter()
    async with session.get(url, headers=headers) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {body[:300]!r}")
    return time.perf_counter() - began, body


async def timed_get(session, url: str, headers: dict) -> tuple[float, dict]:
    seconds, body = await timed_read(session, url, headers)
    return seconds, json.loads(body)


async def answered_200(session, url: str, headers: dict) -> bool:
    """One request under load: True for a 200, False for any other status or a failed connection."""
    try:
        async with session.get(url, headers=headers) as response:
            await response.read()
            return response.status == 200
    except (OSError, aiohttp.ClientError):
        return False


async def load(session, url: str, headers: dict, concurrency: int, seconds: float, max_requests: int) -> dict:
    """A bounded closed-loop load: `concurrency` workers until the time or the request budget runs out."""
    done, errors, latencies = 0, 0, []
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal done, errors
        while time.perf_counter() < deadline and done + errors < max_requests:
            began = time.perf_counter()
            ok = await answered_200(session, url, headers)
            latencies.append(time.perf_counter() - began)
            done, errors = done + ok, errors + (not ok)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {
        "concurrency": concurrency,
        "requests": done,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(done / elapsed, 1),
        **summary(latencies),
    }


def window(anchor: datetime, days: int) -> tuple[datetime, datetime, datetime, datetime]:
    """(start, end) of a `days`-long range ending at the anchor, and the UTC span the service reads for it."""
    end = anchor
    first = (anchor - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    lo = first - timedelta(days=days)
    hi = anchor.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return first + timedelta(hours=12), end, lo, hi


def database_figures(db, anchor: datetime, runs: int) -> dict:
    """Floor and peer, straight through PyMongo."""
    from zoneinfo import ZoneInfo

    from engagement_svc.counting import rules
    from engagement_svc.days import local_date
    from engagement_svc.rocketchat.documents import MESSAGE_SENT

    out = {}
    zone = ZoneInfo(ZONE)
    for days in RANGES:
        start, end, lo, hi = window(anchor, days)
        first, last = local_date(start, zone), local_date(end, zone)
        # The exact answer without kept counts: every message of the window read, sent ones counted per room
        # and day (room types applied after, as the service does).
        pipeline = [
            {"$match": {"ts": {"$gte": lo, "$lt": hi}}},
            {
                "$group": {
                    "_id": {"day": {"$dateTrunc": {"date": "$ts", "unit": "day"}}, "rid": "$rid"},
                    "n": {"$sum": {"$cond": [rules.as_expression(MESSAGE_SENT), 1, 0]}},
                }
            },
        ]

        def floor():
            db.rocketchat_message.count_documents({"ts": {"$gte": lo, "$lt": hi}})

        def exact():
            list(db.rocketchat_message.aggregate(pipeline, allowDiskUse=True))

        def peer():  # Rocket.Chat's getMessagesSentTotalByDate, for the period and then the previous window
            def by_date(a, b, limit):
                return list(
                    db.rocketchat_analytics.aggregate(
                        [
                            {"$match": {"type": "messages", "date": {"$gte": a, "$lte": b}}},
                            {"$group": {"_id": "$date", "messages": {"$sum": "$messages"}}},
                            {"$sort": {"_id": -1}},
                            {"$limit": limit},
                        ]
                    )
                )

            number = lambda d: int(d.strftime("%Y%m%d"))  # noqa: E731
            by_date(number(first), number(last), days)
            by_date(number(first - timedelta(days=days + 1)), number(first - timedelta(days=1)), days + 1)

        figures = {}
        for name, fn, n in (
            ("floor_count_ms", floor, runs),
            ("raw_exact_ms", exact, max(3, runs // 4)),
            ("peer_ms", peer, runs),
        ):
            fn()  # one unmeasured run: every variant reads from a warm cache
            samples = []
            for _ in range(n):
                began = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - began)
            figures[name] = round(statistics.median(samples) * 1000, 2)
        figures["messages_in_window"] = db.rocketchat_message.count_documents({"ts": {"$gte": lo, "$lt": hi}})
        out[str(days)] = figures
    return out


async def service_figures(args, mongo_url_for, sync_client, anchor: datetime) -> dict:
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID
    from engagement_svc.demo.embedded import free_port
    from engagement_svc.reports import messages_sent

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_"))}
    env = base_env | {
        "MONGO_URL": mongo_url_for(args.database),
        "ENGAGEMENT_TIMEZONE": ZONE,
        "ENGAGEMENT_STATE_MONGO_URL": mongo_url_for(args.database + "_state"),
        "ENGAGEMENT_QUERY_TIMEOUT_MS": "300000",
        "ENGAGEMENT_WARM_DAYS": "0",
        # Rocket.Chat's admins bypass its rate limit; a dataset made before the bypass permission
        # was seeded would otherwise be limited to 10 calls a minute.
        "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
    }
    results: dict = {"cold": {}, "warm": {}, "throughput": {}, "ceiling_throughput": {}}
    connector = lambda: aiohttp.TCPConnector(limit=200)  # noqa: E731
    url_for = lambda port, days: (  # noqa: E731
        f"http://127.0.0.1:{port}{messages_sent.REPORT.path}?start={iso_z(window(anchor, days)[0])}"
        f"&end={iso_z(window(anchor, days)[1])}&timezone={ZONE}"
    )

    async with aiohttp.ClientSession(connector=connector()) as session:
        # Cold: a fresh process and an empty state database for every sample.
        for days in RANGES:
            samples = []
            for _ in range(args.cold_runs):
                sync_client.drop_database(args.database + "_state")
                port = free_port()
                server = Server([sys.executable, "-m", "engagement_svc", "serve", "--port", str(port)], env, port)
                try:
                    await server.ready(session)
                    seconds, _ = await timed_get(session, url_for(port, days), headers)
                    samples.append(seconds)
                finally:
                    server.stop()
            results["cold"][str(days)] = summary(samples)
            args.progress(f"  cold {days:>3}-day: p50 {results['cold'][str(days)]['p50_ms']:.0f} ms")

        # Warm: one process; every range counted once, then measured.
        port = free_port()
        server = Server([sys.executable, "-m", "engagement_svc", "serve", "--port", str(port)], env, port)
        try:
            await server.ready(session)
            for days in RANGES:
                await timed_get(session, url_for(port, days), headers)
            for days in RANGES:
                samples = [(await timed_get(session, url_for(port, days), headers))[0] for _ in range(args.warm_runs)]
                results["warm"][str(days)] = summary(samples)
            args.progress(
                "  warm: " + ", ".join(f"{d}-day p50 {results['warm'][str(d)]['p50_ms']:.2f} ms" for d in RANGES)
            )
            for c in CONCURRENCY:
                async with aiohttp.ClientSession(connector=connector()) as load_session:
                    results["throughput"][str(c)] = await load(
                        load_session, url_for(port, 7), headers, c, args.load_seconds, args.load_requests
                    )
            args.progress(
                "  service rps: " + ", ".join(f"c{c} {results['throughput'][str(c)]['rps']}" for c in CONCURRENCY)
            )
            results["freshness"] = await freshness(session, sync_client[args.database], port, headers, args.fresh_runs)
            args.progress(f"  freshness p95 {results['freshness']['p95_ms']:.0f} ms")
            if args.soak_seconds:
                results["soak"] = await soak(
                    server.process.pid,
                    [url_for(port, d) for d in RANGES],
                    f"http://127.0.0.1:{port}/metrics",
                    headers,
                    SOAK_CONCURRENCY,
                    args.soak_seconds,
                )
                k = results["soak"]
                args.progress(
                    f"  soak: {k['requests']:,} requests in {k['seconds']} s at c{SOAK_CONCURRENCY}, "
                    f"{k['errors']} errors, RSS {k['rss_start_mb']} -> {k['rss_end_mb']} MB "
                    f"({k['rss_growth_pct']:+.1f}%)"
                )
            results["service_peak_rss_mb"] = memory_mb(server.process.pid)
        finally:
            server.stop()

        # The ceiling: a minimal handler with one users lookup, in its own process.
        port = free_port()
        ceiling = Server([sys.executable, "-c", CEILING_APP, mongo_url_for(args.database), str(port)], base_env, port)
        try:
            await ceiling.ready(session)
            for c in CONCURRENCY:
                async with aiohttp.ClientSession(connector=connector()) as load_session:
                    results["ceiling_throughput"][str(c)] = await load(
                        load_session, url_for(port, 7), headers, c, args.load_seconds, args.load_requests
                    )
            args.progress(
                "  ceiling rps: "
                + ", ".join(f"c{c} {results['ceiling_throughput'][str(c)]['rps']}" for c in CONCURRENCY)
            )
        finally:
            ceiling.stop()
    return results


async def beyond_figures(args, mongo_url_for, sync_client, anchor: datetime) -> dict:
    """The endpoints beyond the dashboard (bench/beyond.py) in UTC: each cold at 7 and 365 days beside the raw
    aggregation of the same answer (`args.cold_runs` times, in turns), then every case warm in one fresh process,
    and its resident memory after them."""
    from bench import beyond
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID
    from engagement_svc.demo.embedded import free_port

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    db = sync_client[args.database]
    env = service_env(mongo_url_for, args.database) | {"ENGAGEMENT_TIMEZONE": ZONE}
    out: dict = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        out["cold"] = await beyond.cold_beside_raw(
            args.progress,
            db,
            lambda target_of: cold_ms(session, db, env, target_of, headers),
            anchor,
            ZONE,
            args.cold_runs,
        )
        db.client.drop_database(db.name + "_state")
        port = free_port()
        server = Server([*SERVE, str(port)], env, port)
        try:
            await server.ready(session)
            out["warm"] = await beyond.warm(
                args.progress,
                lambda target: timed_read(session, target, headers),
                port,
                anchor,
                ZONE,
                RANGES,
                args.warm_runs,
                server.process.pid,
            )
            out["rss_mb"] = memory_mb(server.process.pid, "VmRSS")
            out["rss_mb_peak"] = memory_mb(server.process.pid, "VmHWM")
        finally:
            server.stop()
    db.client.drop_database(db.name + "_state")
    return out


async def rooms_figures(args, mongo_url_for, sync_client, anchor: datetime) -> dict:
    """Issue 25's figures (bench/rooms.py) in UTC."""
    from bench import rooms
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    env = service_env(mongo_url_for, args.database) | {"ENGAGEMENT_TIMEZONE": ZONE}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        return await rooms.figures(args, session, sync_client[args.database], env, headers, anchor)


NEW_ZONES = (
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "America/Havana",
    "Europe/Berlin",
    "America/Sao_Paulo",
    "Australia/Adelaide",
    "Asia/Tehran",
)

# Every dashboard endpoint, measured A/B warm. Written out, not imported from the service: the paths are the API both
# revisions serve, and "after" may move them in its code. The busier-hours ones take `start` only (one day, seven).
AB_ZONE = "Europe/Berlin"  # a zone with DST
AB_ENDPOINTS = {
    "messages-sent": ("messages/messages-sent", True),
    "origin": ("messages/origin", True),
    "top-five": ("messages/top-five-popular-channels", True),
    "new-users": ("users/new-users", True),
    "active-users": ("users/active-users", True),
    "users-by-hour": ("users/users-by-time-of-the-day-in-a-week", True),
    "hourly": ("users/chat-busier/hourly-data", False),
    "weekly": ("users/chat-busier/weekly-data", False),
    "channels-list": ("channels/list", True),
}


async def ab_figures(args, mongo_url_for, sync_client, anchor: datetime) -> dict:
    """This checkout ("after") against the code in --baseline ("before"), in one run on one machine: cold
    samples alternate between the two; warm rounds interleave two running processes; then the first request in
    each of ten zones never asked before, the resident memory and the size of each one's state; then, in the same
    two processes, every dashboard endpoint warm (`ab_endpoints`) and the resident memory after them."""
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID
    from engagement_svc.demo.embedded import free_port
    from engagement_svc.reports import messages_sent

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_URL", "ENGAGEMENT_", "PYTHONPATH"))}
    variants = {"before": code_of(args.baseline), "after": {}}

    def env_of(name: str) -> dict:
        return base_env | {
            "MONGO_URL": mongo_url_for(args.database),
            "ENGAGEMENT_TIMEZONE": ZONE,
            "ENGAGEMENT_STATE_MONGO_URL": mongo_url_for(f"{args.database}_state_{name}"),
            "ENGAGEMENT_QUERY_TIMEOUT_MS": "300000",
            "ENGAGEMENT_WARM_DAYS": "0",
            "ENGAGEMENT_RATE_LIMIT_CALLS": "0",
            "ENGAGEMENT_LOG_LEVEL": "INFO",
        }

    def url_for(port: int, days: int, zone: str = ZONE) -> str:
        start, end, _, _ = window(anchor, days)
        return (
            f"http://127.0.0.1:{port}{messages_sent.REPORT.path}?start={iso_z(start)}&end={iso_z(end)}&timezone={zone}"
        )

    def start(name: str) -> Server:
        port = free_port()
        return Server(
            [sys.executable, "-m", "engagement_svc", "serve", "--port", str(port)], env_of(name), port, variants[name]
        )

    out: dict = {name: {"cold": {}, "warm": {}, "new_zone_365": {}} for name in variants}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        for days in RANGES:
            samples: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.cold_runs):
                for name in variants:
                    sync_client.drop_database(f"{args.database}_state_{name}")
                    server = start(name)
                    try:
                        await server.ready(session)
                        samples[name].append((await timed_get(session, url_for(server.port, days), headers))[0])
                    finally:
                        server.stop()
            for name in variants:
                out[name]["cold"][str(days)] = summary(samples[name])
            args.progress(
                f"  A/B cold {days:>3}-day: "
                + ", ".join(f"{n} p50 {out[n]['cold'][str(days)]['p50_ms']:.0f} ms" for n in variants)
            )
        servers = {}
        try:
            for name in variants:
                sync_client.drop_database(f"{args.database}_state_{name}")
                servers[name] = start(name)
                await servers[name].ready(session)
                for days in RANGES:
                    await timed_get(session, url_for(servers[name].port, days), headers)
            for days in RANGES:
                warm: dict[str, list[float]] = {name: [] for name in variants}
                for _ in range(max(1, args.warm_runs // 10)):
                    for name, server in servers.items():
                        for _ in range(10):
                            warm[name].append((await timed_get(session, url_for(server.port, days), headers))[0])
                for name in variants:
                    out[name]["warm"][str(days)] = summary(warm[name])
            args.progress(
                "  A/B warm p50: "
                + "; ".join(
                    f"{n} " + ", ".join(f"{d}d {out[n]['warm'][str(d)]['p50_ms']:.2f}" for d in RANGES)
                    for n in variants
                )
            )
            for name, server in servers.items():
                # As after the start-up warm-up (or any earlier request): every UTC day a zone's year and the year
                # before touch is kept. The first request in each new zone is then timed.
                await timed_get(session, url_for(server.port, 400), headers)
                firsts = [(await timed_get(session, url_for(server.port, 365, zone), headers))[0] for zone in NEW_ZONES]
                out[name]["new_zone_365"] = summary(firsts)
                out[name]["rss_mb"] = memory_mb(server.process.pid, "VmRSS")
                stats = sync_client[f"{args.database}_state_{name}"].command("dbStats")
                out[name]["state"] = {
                    "documents": stats["objects"],
                    "data_mb": round(stats["dataSize"] / 2**20, 1),
                    "storage_mb": round(stats["storageSize"] / 2**20, 1),
                }
            args.progress(
                "  A/B first 365-day request in a new zone, p50: "
                + ", ".join(f"{n} {out[n]['new_zone_365']['p50_ms']:.1f} ms" for n in variants)
            )
            await ab_endpoints(args, session, servers, anchor, headers, out)
        finally:
            for server in servers.values():
                server.stop()
    for name in variants:
        sync_client.drop_database(f"{args.database}_state_{name}")
    return out


def endpoint_url(port: int, endpoint: str, anchor: datetime, days: int) -> str:
    """An `AB_ENDPOINTS` endpoint for the range of `days` ending at the anchor, in `AB_ZONE`, JSON, bots default."""
    path, ranged = AB_ENDPOINTS[endpoint]
    start, end, _, _ = window(anchor, days)
    query = f"start={iso_z(start)}" + (f"&end={iso_z(end)}" if ranged else "") + f"&timezone={AB_ZONE}"
    return f"http://127.0.0.1:{port}/api/v1/engagement-dashboard/{path}?{query}"


async def ab_endpoints(args, session, servers: dict, anchor: datetime, headers: dict, out: dict) -> None:
    """Every dashboard endpoint at every range, warm, in both processes: a first request of the query in each
    (not measured), then `args.warm_runs` requests each, in rounds of 10 that alternate between the two; then each
    one's resident memory (current and peak) after all of them. Then the endpoints beyond the dashboard
    (bench/beyond.py) the same way, in each process that serves them (an older revision may not: it answers 404,
    and only the other is measured), and the resident memory after every endpoint."""
    from bench import beyond

    async def measure(label: str, days: int, urls: dict[str, str]) -> None:
        serving = [name for name in servers if await first_status(session, urls[name], headers) == 200]
        warm: dict[str, list[float]] = {name: [] for name in serving}
        for _ in range(max(1, args.warm_runs // 10)):
            for name in serving:
                for _ in range(10):
                    warm[name].append((await timed_read(session, urls[name], headers))[0])
        for name in serving:
            out[name]["endpoints"].setdefault(label, {})[str(days)] = summary(warm[name])
        line = ", ".join(
            f"{n} p50 {out[n]['endpoints'][label][str(days)]['p50_ms']:.2f} ms "
            f"(p95 {out[n]['endpoints'][label][str(days)]['p95_ms']:.2f})"
            for n in serving
        )
        if len(serving) == 2:
            b, a = (out[n]["endpoints"][label][str(days)]["p50_ms"] for n in ("before", "after"))
            line += f", after/before {a / b:.2f}"
        args.progress(f"  A/B warm {label} {days}d: {line}")

    def rss(field: str) -> None:
        for name, server in servers.items():
            out[name][field] = memory_mb(server.process.pid, "VmRSS")
            out[name][field + "_peak"] = memory_mb(server.process.pid, "VmHWM")

    for name in servers:
        out[name]["endpoints"] = {}
    for endpoint in AB_ENDPOINTS:
        for days in RANGES:
            await measure(endpoint, days, {n: endpoint_url(s.port, endpoint, anchor, days) for n, s in servers.items()})
    rss("endpoints_rss_mb")
    for label, endpoint, days, extra in beyond.cases(RANGES):
        start = window(anchor, days)[0]
        await measure(
            label, days, {n: beyond.url(s.port, endpoint, start, anchor, AB_ZONE, extra) for n, s in servers.items()}
        )
    rss("all_endpoints_rss_mb")


async def first_status(session, url: str, headers: dict) -> int:
    """The first request of a query (not measured): its status, the body read."""
    async with session.get(url, headers=headers) as response:
        body = await response.read()
        if response.status not in (200, 404):
            raise RuntimeError(f"{response.status}: {body[:300]!r}")
        return response.status


def ab_table(ab: dict) -> str:
    lines = [
        f"{'range':>6} | {'cold before':>11} | {'cold after':>10} | {'warm before':>11} | {'warm after':>10} | "
        f"{'warm after/before':>17}"
    ]
    for d in map(str, RANGES):
        b, a = ab["before"], ab["after"]
        lines.append(
            f"{d + 'd':>6} | {b['cold'][d]['p50_ms']:>9.0f}ms | {a['cold'][d]['p50_ms']:>8.0f}ms | "
            f"{b['warm'][d]['p50_ms']:>9.2f}ms | {a['warm'][d]['p50_ms']:>8.2f}ms | "
            f"{a['warm'][d]['p50_ms'] / b['warm'][d]['p50_ms']:>17.2f}"
        )
    for name in ("before", "after"):
        v = ab[name]
        lines.append(
            f"{name}: first 365-day request in a new zone p50 {v['new_zone_365']['p50_ms']:.1f} ms "
            f"(p95 {v['new_zone_365']['p95_ms']:.1f}); RSS {v['rss_mb']} MB; state {v['state']['documents']} "
            f"documents, {v['state']['data_mb']} MB data, {v['state']['storage_mb']} MB on disk"
        )
    b, a = ab["before"], ab["after"]
    lines.append("")
    lines.append(f"every endpoint warm in {AB_ZONE}, JSON, bots default; p50 (p95):")
    lines.append(f"{'endpoint':>30} | {'range':>5} | {'before':>19} | {'after':>19} | after/before p50")
    for endpoint, by_days in a["endpoints"].items():
        for d, y in by_days.items():
            x = b["endpoints"].get(endpoint, {}).get(d)
            was = f"{x['p50_ms']:>7.2f} ({x['p95_ms']:>6.2f}) ms" if x else f"{'not served':>19}"
            ratio = f"{y['p50_ms'] / x['p50_ms']:>16.2f}" if x else ""
            lines.append(
                f"{endpoint:>30} | {d + 'd':>5} | {was} | {y['p50_ms']:>7.2f} ({y['p95_ms']:>6.2f}) ms | {ratio}"
            )
    lines.append(
        f"RSS after the dashboard's endpoints: before {b['endpoints_rss_mb']} MB (peak {b['endpoints_rss_mb_peak']}), "
        f"after {a['endpoints_rss_mb']} MB (peak {a['endpoints_rss_mb_peak']}), after/before "
        f"{a['endpoints_rss_mb'] / b['endpoints_rss_mb']:.2f}; after every endpoint: before "
        f"{b['all_endpoints_rss_mb']} MB (peak {b['all_endpoints_rss_mb_peak']}), after {a['all_endpoints_rss_mb']} "
        f"MB (peak {a['all_endpoints_rss_mb_peak']})"
    )
    return "\n".join(lines)


async def soak(pid: int, urls: list[str], metrics_url: str, headers: dict, concurrency: int, seconds: float) -> dict:
    """A bounded soak: `concurrency` workers cycling over `urls` for `seconds`, and a scrape of /metrics every
    second, as Prometheus would; any non-200 or failed request is an error. The server's resident memory is read
    at the start, every 5 s and at the end."""
    done, errors, scrapes, latencies = 0, 0, 0, []
    deadline = time.perf_counter() + seconds
    rss = [memory_mb(pid, "VmRSS") or 0.0]

    async def worker(n: int, session) -> None:
        nonlocal done, errors
        i = n
        while time.perf_counter() < deadline:
            i += 1
            began = time.perf_counter()
            ok = await answered_200(session, urls[i % len(urls)], headers)
            latencies.append(time.perf_counter() - began)
            done, errors = done + ok, errors + (not ok)

    async def scrape_and_sample(session) -> None:
        nonlocal errors, scrapes
        tick = 0
        while (left := deadline - time.perf_counter()) > 0:
            await asyncio.sleep(min(1.0, left))
            ok = await answered_200(session, metrics_url, {})
            scrapes, errors = scrapes + 1, errors + (not ok)
            tick += 1
            if tick % 5 == 0:
                rss.append(memory_mb(pid, "VmRSS") or 0.0)

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        await asyncio.gather(scrape_and_sample(session), *(worker(n, session) for n in range(concurrency)))
    rss.append(memory_mb(pid, "VmRSS") or 0.0)
    elapsed = time.perf_counter() - began
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 1),
        "requests": done,
        "metrics_scrapes": scrapes,
        "errors": errors,
        "rps": round(done / elapsed, 1),
        **summary(latencies),
        "rss_start_mb": rss[0],
        "rss_end_mb": rss[-1],
        "rss_max_mb": max(rss),
        "rss_growth_pct": round((rss[-1] - rss[0]) / rss[0] * 100, 1),
        "rss_samples_mb": rss,
    }


async def freshness(session, db, port: int, headers: dict, runs: int) -> dict:
    """Insert one message now, then poll every 5 ms until today's count includes it."""
    from engagement_svc.demo.dataset import message_doc
    from engagement_svc.reports import messages_sent

    now = datetime.now(UTC)
    url = (
        f"http://127.0.0.1:{port}{messages_sent.REPORT.path}?start={iso_z(now - timedelta(days=1))}&end={iso_z(now)}"
        f"&timezone={ZONE}"
    )
    rid = db.rocketchat_room.find_one({"t": "c"})["_id"]
    author = {"_id": "bench", "username": "bench"}
    samples = []
    for i in range(runs):
        _, body = await timed_get(session, url, headers)
        before = body["days"][0]["messages"]
        db.rocketchat_message.insert_one(message_doc(f"fresh-{time.time_ns()}-{i}", rid, datetime.now(UTC), author))
        began = time.perf_counter()
        while True:
            _, body = await timed_get(session, url, headers)
            if body["days"][0]["messages"] > before:
                break
            if time.perf_counter() - began > 60:
                raise RuntimeError("a new message did not show within 60 s")
            await asyncio.sleep(0.005)
        samples.append(time.perf_counter() - began)
    return summary(samples)


def table(report: dict) -> str:
    db, svc = report["database"], report["service"]
    lines = [
        f"{'range':>6} | {'msgs read':>9} | {'floor':>8} | {'raw exact':>9} | {'peer':>8} | {'cold p50':>9} | "
        f"{'warm p50':>8} | {'warm p95':>8} | {'cold/raw':>8} | {'warm/peer':>9} | {'warm/floor':>10}",
    ]
    for d in map(str, RANGES):
        f, c, w = db[d], svc["cold"][d], svc["warm"][d]
        lines.append(
            f"{d + 'd':>6} | {f['messages_in_window']:>9,} | {f['floor_count_ms']:>6.1f}ms | "
            f"{f['raw_exact_ms']:>7.0f}ms | "
            f"{f['peer_ms']:>6.1f}ms | {c['p50_ms']:>7.0f}ms | {w['p50_ms']:>6.2f}ms | {w['p95_ms']:>6.2f}ms | "
            f"{c['p50_ms'] / f['raw_exact_ms']:>8.2f} | {w['p50_ms'] / f['peer_ms']:>9.3f} | "
            f"{w['p50_ms'] / f['floor_count_ms']:>10.3f}"
        )
    lines.append("")
    lines.append(
        f"{'concurrency':>11} | {'service rps':>11} | {'ceiling rps':>11} | {'service/ceiling':>15} | "
        f"{'service p95':>11} | errors"
    )
    for c in map(str, CONCURRENCY):
        s, k = svc["throughput"][c], svc["ceiling_throughput"][c]
        lines.append(
            f"{c:>11} | {s['rps']:>11.1f} | {k['rps']:>11.1f} | {s['rps'] / k['rps']:>15.2f} | "
            f"{s['p95_ms']:>9.2f}ms | {s['errors'] + k['errors']}"
        )
    fr = svc["freshness"]
    lines.append("")
    lines.append(
        f"freshness (insert -> counted): p50 {fr['p50_ms']:.0f} ms, p95 {fr['p95_ms']:.0f} ms over {fr['n']}; "
        f"service peak RSS {svc['service_peak_rss_mb']} MB; "
        f"365d warm / 7d warm: {svc['warm']['365']['p50_ms'] / svc['warm']['7']['p50_ms']:.2f}"
    )
    if "soak" in svc:
        k = svc["soak"]
        lines.append(
            f"soak: {k['requests']:,} requests in {k['seconds']} s at concurrency {k['concurrency']} "
            f"({k['rps']} rps, p95 {k['p95_ms']:.2f} ms), {k['errors']} errors; RSS {k['rss_start_mb']} -> "
            f"{k['rss_end_mb']} MB ({k['rss_growth_pct']:+.1f}%), max {k['rss_max_mb']} MB"
        )
    return "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3_000_000, help="messages in the dataset (default 3,000,000)")
    parser.add_argument("--days", type=int, default=120, help="days the dataset spans (default 120)")
    parser.add_argument("--rooms", type=int, default=500, help="channel, private and direct rooms (default 500)")
    parser.add_argument("--cold-runs", type=int, default=20, help="fresh processes per range for cold figures")
    parser.add_argument("--warm-runs", type=int, default=50, help="requests per range for warm figures")
    parser.add_argument("--fresh-runs", type=int, default=20, help="messages inserted to measure freshness")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="longest time of each load run")
    parser.add_argument("--load-requests", type=int, default=20_000, help="most requests of each load run")
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=60.0,
        help=f"length of the soak at concurrency {SOAK_CONCURRENCY} over every range, /metrics scraped every second "
        "(default 60; 0 skips it)",
    )
    parser.add_argument("--database", default="engagement_bench", help="database holding the dataset")
    parser.add_argument(
        "--baseline",
        default="",
        help="a checkout of an older revision (git worktree) to measure "
        "against this one, A/B in the same run (make bench BASELINE=<revision>)",
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated, of {', '.join(PARTS)} (default every one)",
        type=lambda text: [p for p in text.split(",") if p in PARTS] or parser.error(f"--parts: of {PARTS}"),
    )
    parser.add_argument("--live-rounds", type=int, default=10, help="rounds of new messages for the rooms part's CPU")
    parser.add_argument("--output", default="bench/results/latest.json", help="where the JSON figures go")
    return parser


def run(args: argparse.Namespace) -> int:
    """Set up (or reuse) the dataset, measure, print the table, write the JSON."""
    from pymongo import MongoClient

    from bench import beyond, rooms
    from bench.dataset import add_sessions, existing_anchor, generate, sessions_present
    from engagement_svc.demo.embedded import EmbeddedMongo

    args.progress = lambda text: print(text, flush=True)
    external = os.environ.get("BENCH_MONGO_URL")
    mongo = None
    if external:
        base = external.split("?")[0].rstrip("/")
        options = "?" + external.split("?", 1)[1] if "?" in external else ""
        if base.count("/") > 2:
            base = base.rsplit("/", 1)[0]
        mongo_url_for = lambda name: f"{base}/{name}{options}"  # noqa: E731
        server_url = external
    else:
        # The embedded server keeps its data under bench/data so the dataset is generated only once.
        mongo = EmbeddedMongo(cache_gb=4, data_dir=str(Path("bench/data").resolve()))
        mongo.start(timeout=120)
        mongo_url_for = mongo.url_for
        server_url = mongo.url
    client: MongoClient = MongoClient(server_url, tz_aware=True)
    try:
        db = client[args.database]
        anchor = existing_anchor(db, args.messages, args.days, args.rooms)
        generation_s = None
        if anchor is None:
            args.progress(f"generating {args.messages:,} messages over {args.days} days (once; reused afterwards)")
            began = time.monotonic()
            anchor = generate(db, args.messages, args.days, args.rooms, progress=args.progress)
            generation_s = round(time.monotonic() - began, 1)
            args.progress(f"  generated in {generation_s} s")
        else:
            args.progress(f"reusing the dataset in {args.database} (anchor {anchor.isoformat()})")
        if ("beyond" in args.parts or args.baseline) and not sessions_present(db):  # only those read logins
            args.progress(f"adding the logins of {args.days} days to {args.database} (once; reused afterwards)")
            began = time.monotonic()
            written = add_sessions(db, anchor, args.days, progress=args.progress)
            args.progress(f"  {written:,} session documents in {time.monotonic() - began:.0f} s")
        report: dict = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "mongodb": client.server_info()["version"],
            },
            "dataset": {
                "messages": args.messages,
                "days": args.days,
                "rooms": args.rooms,
                "anchor": anchor.isoformat(),
                "generation_seconds": generation_s,
                "analytics_documents": db.rocketchat_analytics.count_documents({}),
                "session_documents": db.rocketchat_sessions.estimated_document_count(),
                "users": db.users.estimated_document_count(),
            },
            "zone": ZONE,
        }
        if "database" in args.parts:
            args.progress("measuring floor and peer")
            report["database"] = database_figures(db, anchor, runs=20)
        if "service" in args.parts:
            args.progress("measuring the service")
            report["service"] = asyncio.run(service_figures(args, mongo_url_for, client, anchor))
        if "database" in report and "service" in report:
            print(table(report))
        if "beyond" in args.parts:
            args.progress("measuring the endpoints beyond the dashboard")
            report["beyond"] = asyncio.run(beyond_figures(args, mongo_url_for, client, anchor))
            print(beyond.table(report["beyond"]["cold"], report["beyond"]["warm"]))
        if "rooms" in args.parts:
            args.progress("measuring issue 25's rooms, silent list, team list and new messages")
            report["rooms"] = asyncio.run(rooms_figures(args, mongo_url_for, client, anchor))
            report["rooms"]["in_process"] = rooms.in_process(args.rooms, max(10, args.live_rounds))
            print(rooms.table(report["rooms"]))
        if args.baseline:
            args.progress(f"A/B against the code in {args.baseline}")
            report["ab"] = asyncio.run(ab_figures(args, mongo_url_for, client, anchor))
            print(ab_table(report["ab"]))
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.output}")
        return 0
    finally:
        client.close()
        if mongo is not None:  # bench/data stays for the next run
            mongo.stop()


if __name__ == "__main__":
    raise SystemExit(run(build_parser().parse_args()))

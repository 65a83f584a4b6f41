"""`python -m bench.users` (`make bench-users`): figures for the users tab's session endpoints. Asserts nothing.

Dataset: 100,000 users (a long tail: a few log in every day, most rarely; 0.5% bots) and 3,000,000 logins over
400 days, written as Rocket.Chat writes them (demo/sessions.py: the 01:05 copies, `computed-session`,
`user_daily`), without the TTL so that Rocket.Chat's own queries have all 400 days too. For each endpoint and
range (7/30/90 days ending at the anchor, UTC): the raw exact aggregation over `rocketchat_sessions` by the
interval rule (one pipeline in MongoDB), Rocket.Chat's own query (the peer: `user_daily` for active users,
`computed-session` by `loginAt` hour for the others, as its Sessions model runs them), the service cold (a
fresh process and an empty state database: the first answer) and warm (p50/p95). Then the service's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from bench.run import cold_and_warm, memory_mb, service_env, summary, write_report

ENDPOINTS = ("active-users", "by-hour", "hourly", "weekly")
SERVER_ZONE = ZoneInfo("UTC")
DAY_MS, HOUR_MS = 86_400_000, 3_600_000


def describe(users: int, sessions: int, days: int) -> dict:
    return {"_id": "users-dataset", "users": users, "sessions": sessions, "days": days, "version": 2}


def generate(db, users: int, sessions: int, days: int, progress, seed: int = 7) -> datetime:
    """Drop and refill `db`; returns the anchor (the instant the data ends: now, at a whole hour)."""
    from pymongo.errors import BulkWriteError

    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID
    from engagement_svc.demo.dataset import base_documents, create_indexes, login_token, user_doc
    from engagement_svc.demo.sessions import session_documents

    rng = random.Random(seed)
    anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for name in db.list_collection_names():
        db.drop_collection(name)
    ids = [f"BenchUser{i:08d}" for i in range(users)]
    bots = set(ids[::200])
    docs = [user_doc(BENCH_USER_ID, "bench.admin", ["user", "admin"], [login_token(BENCH_TOKEN, anchor)])]
    docs += [user_doc(u, f"user{i}", ["user"], [], **({"type": "bot"} if u in bots else {})) for i, u in enumerate(ids)]
    base_documents(db, docs)
    create_indexes(db)
    cumulative, running = [], 0.0
    for i in range(users):  # user i logs in with weight 1 / (i + 50): a few every day, most now and then
        running += 1.0 / (i + 50)
        cumulative.append(running)
    first = (anchor - timedelta(days=days)).date()
    rhythm = [0.4 if (first + timedelta(days=i)).weekday() >= 5 else 1.15 for i in range(days + 1)]
    per_day = [round(sessions * w / sum(rhythm)) for w in rhythm]  # weekdays busier; `sessions` in all
    started, written = time.monotonic(), 0
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        count = per_day[offset]
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        logins = logins_of_day(rng, day_start, anchor, count, ids, cumulative, bots)
        batch = session_documents(logins, anchor, SERVER_ZONE, rng, ttl=False)
        # a user_daily of a day also summed from the day before's copies is a duplicate: Rocket.Chat's is one
        with contextlib.suppress(BulkWriteError):
            db.rocketchat_sessions.insert_many(batch, ordered=False)
        written += len(logins)
        if offset % 50 == 0:
            progress(f"  {day}: {written:,} logins written ({time.monotonic() - started:.0f} s)")
    db.engagement_bench_meta.replace_one(
        {"_id": "users-dataset"},
        describe(users, sessions, days)
        | {"anchor": anchor, "complete": True, "generated_seconds": round(time.monotonic() - started)},
        upsert=True,
    )
    return anchor


def logins_of_day(rng, day_start: datetime, anchor: datetime, count: int, ids, cum_weights, bots) -> list:
    """`count` logins of one day by users drawn with `cum_weights` (a long tail), at the daily rhythm: most short,
    4% long (8-30 hours), none after the anchor (those not over by then are still open)."""
    from engagement_svc.demo.dataset import HOUR_WEIGHTS
    from engagement_svc.demo.sessions import Login

    who = rng.choices(ids, cum_weights=cum_weights, k=count)
    hours = rng.choices(range(24), HOUR_WEIGHTS, k=count)
    logins = []
    for user, hour in zip(who, hours, strict=True):
        start = day_start + timedelta(hours=hour, seconds=rng.random() * 3600)
        if start > anchor:
            continue
        minutes = rng.lognormvariate(3.8, 1.0) if rng.random() < 0.96 else rng.uniform(8 * 60, 30 * 60)
        end: datetime | None = start + timedelta(minutes=minutes)
        if end is not None and end > anchor:
            end = None
        logins.append(Login(user, "bot" if user in bots else "user", start, end, rng.random() < 0.3, hour % 6))
    return logins


def existing_anchor(db, users: int, sessions: int, days: int) -> datetime | None:
    meta = db.engagement_bench_meta.find_one({"_id": "users-dataset"})
    if meta and all(meta.get(k) == v for k, v in describe(users, sessions, days).items()) and meta.get("complete"):
        return meta["anchor"]
    return None


def _range(anchor: datetime, days: int) -> tuple[datetime, datetime]:
    """`days` whole UTC days ending with the anchor's day."""
    last = anchor.replace(hour=0)
    return last - timedelta(days=days - 1), anchor


def url(port: int, endpoint: str, anchor: datetime, days: int) -> str:
    from engagement_svc.days import iso_z
    from engagement_svc.reports import active_users, hourly, users_by_hour, weekly

    path = {
        "active-users": active_users.REPORT.path,
        "by-hour": users_by_hour.REPORT.path,
        "hourly": hourly.REPORT.path,
        "weekly": weekly.REPORT.path,
    }
    start, end = _range(anchor, days)
    if endpoint in ("hourly", "weekly"):  # one day (hourly) or seven (weekly), whatever the range
        start = end
    return f"http://127.0.0.1:{port}{path[endpoint]}?start={iso_z(start)}&end={iso_z(end)}&timezone=UTC"


def raw_pipeline(lo: datetime, hi: datetime, unit_ms: int) -> list[dict]:
    """Distinct users per UTC unit (day or hour) by the interval rule, computed entirely in MongoDB."""
    lo_ms, hi_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
    window = {"$gte": lo - timedelta(days=3), "$lt": hi}
    end = {
        "$switch": {
            "branches": [
                {"case": {"$eq": [{"$type": "$" + f}, "date"]}, "then": {"$toLong": "$" + f}}
                for f in ("closedAt", "logoutAt", "lastActivityAt")
            ],
            "default": {"$toLong": "$$NOW"},
        }
    }
    return [
        {
            "$match": {
                "$or": [{"loginAt": window}, {"createdAt": window}],
                "type": {"$in": ["session", "computed-session"]},
                "userId": {"$exists": True},
                "mostImportantRole": {"$ne": "anonymous"},
            }
        },
        {"$project": {"u": "$userId", "a": {"$max": [{"$toLong": "$loginAt"}, lo_ms]}, "b": {"$min": [end, hi_ms]}}},
        {"$match": {"$expr": {"$gt": ["$b", "$a"]}}},
        {
            "$project": {
                "u": 1,
                "t": {
                    "$range": [
                        {"$toInt": {"$floor": {"$divide": ["$a", unit_ms]}}},
                        {"$toInt": {"$ceil": {"$divide": ["$b", unit_ms]}}},
                    ]
                },
            }
        },
        {"$unwind": "$t"},
        {"$group": {"_id": {"t": "$t", "u": "$u"}}},
        {"$group": {"_id": "$_id.t", "users": {"$sum": 1}}},
    ]


def peer_pipeline(endpoint: str, lo: datetime, hi: datetime) -> list[dict]:
    """Rocket.Chat's own query shape for the endpoint (its Sessions model): user_daily per day, or
    computed-session grouped by the UTC hour / day of `loginAt`."""
    if endpoint == "active-users":
        days = [lo.date() + timedelta(days=i) for i in range((hi.date() - lo.date()).days + 1)]
        return [
            {"$match": {"type": "user_daily", "$or": [{"year": d.year, "month": d.month, "day": d.day} for d in days]}},
            {"$group": {"_id": {"day": "$day", "month": "$month", "year": "$year"}, "list": {"$addToSet": "$userId"}}},
            {"$project": {"users": {"$size": "$list"}, "usersList": "$list"}},
        ]
    group: dict = {"day": {"$dayOfMonth": "$loginAt"}, "month": {"$month": "$loginAt"}, "year": {"$year": "$loginAt"}}
    if endpoint in ("by-hour", "hourly"):
        group["hour"] = {"$hour": "$loginAt"}
    return [
        {"$match": {"type": "computed-session", "loginAt": {"$gte": lo, "$lte": hi}}},
        {"$project": {"userId": 1, **{k: v for k, v in group.items()}}},
        {"$group": {"_id": {k: "$" + k for k in group}, "users": {"$addToSet": "$userId"}}},
        {"$project": {"users": {"$size": "$users"}}},
    ]


def database_figures(db, anchor: datetime, ranges: list[int], runs: int) -> dict:
    out: dict = {}
    for days in ranges:
        lo, hi = _range(anchor, days)
        figures: dict = {}
        for endpoint in ENDPOINTS:
            a, b = lo, hi
            if endpoint == "hourly":
                a = hi.replace(hour=0)
            elif endpoint == "weekly":
                a = hi.replace(hour=0) - timedelta(days=6)
            elif endpoint == "active-users":
                a = lo - timedelta(days=29)  # the month before each day (mau)
            unit = HOUR_MS if endpoint in ("by-hour", "hourly") else DAY_MS
            raw, peer = [], []
            for _ in range(runs):
                began = time.perf_counter()
                list(db.rocketchat_sessions.aggregate(raw_pipeline(a, b, unit), allowDiskUse=True))
                raw.append(time.perf_counter() - began)
                began = time.perf_counter()
                list(db.rocketchat_sessions.aggregate(peer_pipeline(endpoint, max(a, lo), b), allowDiskUse=True))
                peer.append(time.perf_counter() - began)
            figures[endpoint] = {"raw_ms": summary(raw)["p50_ms"], "peer_ms": summary(peer)["p50_ms"]}
        out[str(days)] = figures
    return out


async def service_figures(args, mongo_url_for, db, anchor: datetime, ranges: list[int]) -> dict:
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}

    async def after(server, port: int, out: dict) -> None:
        out["rss_mb"] = memory_mb(server.process.pid, "VmRSS")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        return await cold_and_warm(
            args,
            session,
            db,
            service_env(mongo_url_for, args.database),
            ENDPOINTS,
            ranges,
            lambda port, endpoint, days: url(port, endpoint, anchor, days),
            headers,
            after,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.users", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=3_000_000, help="logins (copies and sums come on top)")
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--ranges", default="7,30,90", help="range lengths in days, comma-separated")
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=30)
    parser.add_argument("--database", default=None, help="default: engagement_bench_users_<users>_<sessions>_<days>")
    parser.add_argument("--output", default="bench/results/users.json")
    parser.add_argument("--generate-only", action="store_true", help="make the dataset, measure nothing")
    parser.add_argument(
        "--reuse-database-figures", action="store_true", help="take raw and peer figures from --output (same data)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from engagement_svc.demo.embedded import EmbeddedMongo

    args.progress = lambda text: print(text, flush=True)
    args.database = args.database or f"engagement_bench_users_{args.users}_{args.sessions}_{args.days}"
    ranges = [int(d) for d in args.ranges.split(",")]
    mongo = EmbeddedMongo(cache_gb=4, data_dir=str(Path("bench/data").resolve()))
    mongo.start(timeout=120)
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    try:
        db = client[args.database]
        anchor = existing_anchor(db, args.users, args.sessions, args.days)
        if anchor is None:
            args.progress(f"generating {args.sessions:,} logins of {args.users:,} users over {args.days} days")
            anchor = generate(db, args.users, args.sessions, args.days, args.progress)
        if args.generate_only:
            return 0
        report: dict = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": {
                "users": args.users,
                "logins": args.sessions,
                "documents": db.rocketchat_sessions.estimated_document_count(),
                "days": args.days,
                "anchor": anchor.isoformat(),
            },
        }
        previous = json.loads(Path(args.output).read_text()) if args.reuse_database_figures else {}
        if previous.get("dataset", {}).get("anchor") == anchor.isoformat():
            report["database"] = previous["database"]
        else:
            report["database"] = database_figures(db, anchor, ranges, args.raw_runs)
        args.progress(f"  raw and peer: {report['database']}")
        report["service"] = asyncio.run(service_figures(args, mongo.url_for, db, anchor, ranges))
        write_report(Path(args.output), report)
        return 0
    finally:
        client.close()
        mongo.stop()


if __name__ == "__main__":
    raise SystemExit(run(build_parser().parse_args()))

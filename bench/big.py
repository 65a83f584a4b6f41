"""`python -m bench.big` (`make bench-big`): the big-server run. Asserts nothing.

Dataset: bench/big_dataset.py (20,000,000 messages, 100,000 users, 50,000 rooms, 5,000,000 logins over 730 days by
default), kept in bench/data under its own database name and made (or continued) on first use.

Figures: the raw exact aggregations over all the data (messages per room and 15-minute slot; distinct users per
UTC day by the session rule), the first start on an empty state database (time until `/readyz` says every
closed day is counted, with the latency of a warm request repeated meanwhile, and the peak RSS), then every
endpoint warm (p50/p95) over 7/30/90/365 days, and cold 7 days (a fresh process, no backfill) three times, each
beside the raw exact aggregation for the same answer (the ratio of the medians). The endpoints beyond the dashboard
(bench/beyond.py: people posting, active users by client, the members table) the same way: cold at 7 and 365 days
beside the raw aggregation an admin would write, warm in the process of the first start after the others, and the
resident memory after every endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import aiohttp

from bench import beyond
from bench.run import SERVE, Server, cold_ms, memory_mb, service_env, summary, timed_read, write_report

ENDPOINTS = (
    "messages-sent",
    "origin",
    "top-five",
    "list",
    "new-users",
    "active-users",
    "by-hour",
    "hourly",
    "weekly",
)


def url(port: int, endpoint: str, anchor: datetime, days: int) -> str:
    """`days` whole UTC days ending with the anchor's day (hourly and weekly: the anchor's day)."""
    from engagement_svc.days import iso_z
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

    path = {
        "messages-sent": messages_sent.REPORT.path,
        "origin": origin.REPORT.path,
        "top-five": top_five.REPORT.path,
        "list": channels_list.REPORT.path,
        "new-users": new_users.REPORT.path,
        "active-users": active_users.REPORT.path,
        "by-hour": users_by_hour.REPORT.path,
        "hourly": hourly.REPORT.path,
        "weekly": weekly.REPORT.path,
    }[endpoint]
    start = anchor.replace(hour=0) - timedelta(days=days - 1)
    if endpoint in ("hourly", "weekly"):
        start = anchor
    return f"http://127.0.0.1:{port}{path}?start={iso_z(start)}&end={iso_z(anchor)}&timezone=UTC"


def timed(function) -> float:
    began = time.perf_counter()
    function()
    return round((time.perf_counter() - began) * 1000, 1)


def raw_messages(db, lo: datetime, hi: datetime) -> None:
    """Messages per room and 15-minute slot by the sent-message rule, straight from MongoDB."""
    from engagement_svc.counting import rules
    from engagement_svc.rocketchat.documents import MESSAGE_SENT

    slot = {"$toLong": {"$divide": [{"$toLong": "$ts"}, 900_000]}}
    sent = {"$cond": [rules.as_expression(MESSAGE_SENT), 1, 0]}
    pipeline = [
        {"$match": {"ts": {"$gte": lo, "$lt": hi}}},
        {"$group": {"_id": {"s": slot, "r": "$rid"}, "n": {"$sum": sent}}},
    ]
    list(db.rocketchat_message.aggregate(pipeline, allowDiskUse=True))


def raw_sessions(db, lo: datetime, hi: datetime) -> None:
    """Distinct users per UTC day by the session rule, straight from MongoDB."""
    from bench.users import raw_pipeline

    list(db.rocketchat_sessions.aggregate(raw_pipeline(lo, hi, 86_400_000), allowDiskUse=True))


def raw_7_days(db, endpoint: str, anchor: datetime) -> float:
    """The raw exact aggregation for a 7-day answer: messages-sent reads the 7 days before too, active users
    the 29 before (MAU)."""
    day = anchor.replace(hour=0) + timedelta(days=1)
    if endpoint == "messages-sent":
        return timed(lambda: raw_messages(db, day - timedelta(days=14), day))
    return timed(lambda: raw_sessions(db, day - timedelta(days=36), day))


def raw_figures(db, anchor: datetime) -> dict:
    """The exact answers straight from MongoDB, one aggregation each, over all the data."""
    first = datetime(2000, 1, 1, tzinfo=UTC)
    day = anchor.replace(hour=0) + timedelta(days=1)
    out = {
        "all_messages_ms": timed(lambda: raw_messages(db, first, day)),
        "all_sessions_ms": timed(lambda: raw_sessions(db, first, day)),
    }
    out["all_ms"] = round(out["all_messages_ms"] + out["all_sessions_ms"], 1)
    return out


async def first_start(args, session, db, env: dict, anchor: datetime, headers: dict) -> dict:
    """A fresh process on an empty state database with the backfill on: the first 7-day answer, then a warm
    request every 100 ms until every closed day is counted."""
    from engagement_svc.demo.embedded import free_port

    db.client.drop_database(db.name + "_state")
    port = free_port()
    server = Server([*SERVE, str(port)], env | {"ENGAGEMENT_WARM_DAYS": "36500"}, port)
    began = time.monotonic()
    try:
        await server.ready(session)
        target = url(port, "messages-sent", anchor, 7)
        first, _ = await timed_read(session, target, headers)
        samples, progress = [], []
        while True:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                backfill = (await response.json())["backfill"]
            progress.append({"s": round(time.monotonic() - began), **backfill})
            if backfill["days_left"] == 0 and backfill["days_counted"] > 0:
                break
            for _ in range(20):
                samples.append((await timed_read(session, target, headers))[0])
                await asyncio.sleep(0.1)
            if len(progress) % 15 == 0:
                args.progress(f"  backfill: {backfill} after {time.monotonic() - began:.0f} s")
        return {
            "all_days_counted_s": round(time.monotonic() - began, 1),
            "first_7_day_answer_ms": round(first * 1000, 1),
            "warm_during_backfill": summary(samples),
            "rss_mb_peak": memory_mb(server.process.pid, "VmHWM"),
            "rss_mb": memory_mb(server.process.pid, "VmRSS"),
            "progress": progress[:: max(1, len(progress) // 12)],
            "pid": server.process.pid,
            "port": port,
            "server": server,
        }
    except BaseException:
        server.stop()
        raise


async def warm_figures(args, session, port: int, anchor: datetime, headers: dict, pid: int) -> dict:
    """Every dashboard endpoint warm at each range, and the resident memory after each range's first request."""
    out: dict = {}
    for endpoint in ENDPOINTS:
        for days in args.ranges:
            target = url(port, endpoint, anchor, days)
            _, body = await timed_read(session, target, headers)
            rss = memory_mb(pid, "VmRSS")
            samples = [(await timed_read(session, target, headers))[0] for _ in range(args.warm_runs)]
            out.setdefault(endpoint, {})[str(days)] = summary(samples) | {"bytes": len(body), "rss_mb": rss}
            args.progress(f"  warm {endpoint} {days}-day: {out[endpoint][str(days)]}")
    return out


async def service_figures(args, mongo_url_for, db, anchor: datetime) -> dict:
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    env = service_env(mongo_url_for, args.database)
    out: dict = {}
    # A first answer at this size may take minutes (a year of the members table reads every day of the data).
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100), timeout=timeout) as session:
        # Cold and raw in turns, several times (this machine's speed drifts by 10-20% between runs): the ratio
        # of the medians.
        cold: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.cold_runs):
            for endpoint in ("messages-sent", "active-users"):
                runs = cold.setdefault(endpoint, {"raw_ms": [], "cold_ms": []})
                runs["raw_ms"].append(raw_7_days(db, endpoint, anchor))
                target = lambda port, e=endpoint: url(port, e, anchor, 7)  # noqa: E731
                runs["cold_ms"].append(await cold_ms(session, db, env, target, headers))
        out["cold_7"] = {
            e: {**runs, "cold_over_raw": round(median(runs["cold_ms"]) / median(runs["raw_ms"]), 2)}
            for e, runs in cold.items()
        }
        args.progress(f"  cold 7 days: {out['cold_7']}")
        started = await first_start(args, session, db, env, anchor, headers)
        server = started.pop("server")
        try:
            out["first_start"] = {k: v for k, v in started.items() if k not in ("pid", "port")}
            args.progress(f"  first start: {out['first_start']}")
            args.checkpoint(out)
            out["warm"] = await warm_figures(args, session, started["port"], anchor, headers, started["pid"])
            out["rss_mb_after_dashboard"] = memory_mb(started["pid"], "VmRSS")
            out["beyond_warm"] = await beyond.warm(
                args.progress,
                lambda target: timed_read(session, target, headers),
                started["port"],
                anchor,
                "UTC",
                args.ranges,
                args.warm_runs,
                started["pid"],
            )
            out["rss_mb_after"] = memory_mb(started["pid"], "VmRSS")
            out["rss_mb_peak"] = memory_mb(started["pid"], "VmHWM")
            async with session.get(f"http://127.0.0.1:{started['port']}/metrics") as response:
                metrics = await response.text()
            out["kept"] = {
                line.split()[0]: float(line.split()[1])
                for line in metrics.splitlines()
                if line.startswith(("engagement_svc_kept_", "engagement_svc_backfill_"))
            }
        finally:
            server.stop()
        args.checkpoint(out)
        # Last: a year of these reads every day of the data, minutes for each answer and each raw aggregation.
        if not args.beyond_cold_runs:
            return out
        out["beyond_cold"] = await beyond.cold_beside_raw(
            args.progress,
            db,
            lambda target_of: cold_ms(session, db, env, target_of, headers),
            anchor,
            "UTC",
            args.beyond_cold_runs,
            [int(d) for d in args.beyond_cold_days.split(",")],
        )
        print(beyond.table(out["beyond_cold"], out["beyond_warm"]), flush=True)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.big", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=50_000)
    parser.add_argument("--logins", type=int, default=5_000_000, help="logins (copies and sums come on top)")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--cache-gb", type=float, default=6.0, help="the embedded mongod's WiredTiger cache")
    parser.add_argument("--database", default=None, help="default: engagement_bench_big_<messages>_<rooms>_<days>")
    parser.add_argument("--ranges", default="7,30,90,365", help="range lengths in days, comma-separated")
    parser.add_argument("--warm-runs", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=3, help="cold 7-day answers (each beside a raw one)")
    parser.add_argument(
        "--beyond-cold-runs",
        type=int,
        default=1,
        help="cold answers of each endpoint beyond the dashboard per range, each beside its raw aggregation (a year "
        "reads every day of the data: minutes each)",
    )
    parser.add_argument("--beyond-cold-days", default="7,365", help="their ranges, comma-separated")
    parser.add_argument("--no-raw", dest="raw", action="store_false", help="skip the raw aggregations over all data")
    parser.add_argument("--output", default="bench/results/big.json")
    parser.add_argument("--generate-only", action="store_true", help="make the dataset, measure nothing")
    return parser


def run(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from bench.big_dataset import existing_anchor, generate
    from engagement_svc.demo.embedded import EmbeddedMongo

    args.progress = lambda text: print(text, flush=True)
    args.database = args.database or f"engagement_bench_big_{args.messages}_{args.rooms}_{args.days}"
    mongo = EmbeddedMongo(cache_gb=args.cache_gb, data_dir=str(Path("bench/data").resolve()))
    mongo.start(timeout=300)
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    try:
        db = client[args.database]
        shape = (args.messages, args.users, args.rooms, args.logins, args.days)
        anchor = existing_anchor(db, *shape)
        if anchor is None:
            args.progress(
                f"generating {args.messages:,} messages in {args.rooms:,} rooms, {args.users:,} users and "
                f"{args.logins:,} logins over {args.days} days into {args.database}"
            )
            anchor = generate(db, mongo.url, *shape, args.progress)
        meta = db.engagement_bench_meta.find_one({"_id": "big-dataset"}) or {}
        args.progress(f"dataset ready (anchor {anchor.isoformat()}, made in {meta.get('seconds', 0):.0f} s)")
        if args.generate_only:
            return 0
        args.ranges = [int(d) for d in args.ranges.split(",")]
        report: dict = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": {
                "messages": db.rocketchat_message.estimated_document_count(),
                "sessions": db.rocketchat_sessions.estimated_document_count(),
                "users": db.users.estimated_document_count(),
                "rooms": db.rocketchat_room.estimated_document_count(),
                "days": args.days,
                "anchor": anchor.isoformat(),
                "load_seconds": round(meta.get("seconds", 0)),
                "storage_mb": round(db.command("dbStats")["storageSize"] / 2**20),
                "index_mb": round(db.command("dbStats")["indexSize"] / 2**20),
            },
        }
        args.progress(f"  {report['dataset']}")
        if args.raw:
            report["raw"] = raw_figures(db, anchor)
            args.progress(f"  raw: {report['raw']}")
        # What is measured so far is written as it comes: the run takes the better part of an hour.
        args.checkpoint = lambda service: Path(args.output).write_text(
            json.dumps(report | {"service": service, "partial": True}, indent=2, default=str) + "\n"
        )
        report["service"] = asyncio.run(service_figures(args, mongo.url_for, db, anchor))
        write_report(Path(args.output), report)
        return 0
    finally:
        client.close()
        mongo.stop()


if __name__ == "__main__":
    raise SystemExit(run(build_parser().parse_args()))

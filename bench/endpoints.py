"""`python -m bench.endpoints`: figures for origin, top five and the channel list (and its CSV). Asserts nothing.

For each range (ending at the dataset's anchor, UTC days): the raw exact aggregation over `rocketchat_message`
that endpoint needs (plus the rooms' types), Rocket.Chat's own query on `rocketchat_analytics` for it (the
peer), the service cold (a fresh process and an empty state database: the first answer) and warm (p50/p95 of
repeated requests). Then freshness (an inserted message counted in all three endpoints) and, for the list, the
CSV of every row: time, rows, bytes and the service's RSS growth. The dataset is bench/dataset.py's, kept in
bench/data under its own database name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.run import cold_and_warm, memory_mb, service_env, summary, timed_read, window, write_report

ENDPOINTS = ("origin", "top-five", "list")


def paths() -> dict[str, str]:
    from engagement_svc.reports import channels_list, origin, top_five

    return {"origin": origin.REPORT.path, "top-five": top_five.REPORT.path, "list": channels_list.REPORT.path}


def url(port: int, endpoint: str, anchor: datetime, days: int, extra: str = "") -> str:
    """The endpoint for `days` whole days ending at the anchor (days=0: the last hour)."""
    from engagement_svc.days import iso_z

    start, end, _, _ = window(anchor, days) if days else (anchor - timedelta(hours=1), anchor, None, None)
    return f"http://127.0.0.1:{port}{paths()[endpoint]}?start={iso_z(start)}&end={iso_z(end)}&timezone=UTC{extra}"


def timed(function) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def raw_and_peer(db, anchor: datetime, days: int, runs: int, peer_list: bool) -> dict:
    """The exact aggregation each endpoint needs, and Rocket.Chat's query on its counters, through PyMongo."""
    from engagement_svc.rocketchat.documents import MESSAGE_SENT

    start, _, lo, hi = window(anchor, days)
    first = start.replace(hour=0)
    types = {}

    def room_types():
        types.update({r["_id"]: r.get("t") for r in db.rocketchat_room.find({}, {"t": 1})})

    def per_room(a, b):
        room_types()
        rows = db.rocketchat_message.aggregate(
            [{"$match": {"ts": {"$gte": a, "$lt": b}, **MESSAGE_SENT}}, {"$group": {"_id": "$rid", "n": {"$sum": 1}}}],
            allowDiskUse=True,
        )
        return {r["_id"]: r["n"] for r in rows if types.get(r["_id"]) in ("c", "p", "d")}

    def raw_origin():
        sums: dict = {}
        for rid, n in per_room(first, hi).items():
            sums[types[rid]] = sums.get(types[rid], 0) + n

    def raw_top():
        rows = per_room(first, hi)
        top = sorted(rows, key=lambda r: (-rows[r], r))[:5]
        list(db.rocketchat_room.find({"_id": {"$in": top}}))

    def raw_list():
        room_types()
        cond = {"$cond": [{"$gte": ["$ts", first]}, 1, 0]}
        rows = list(
            db.rocketchat_message.aggregate(
                [
                    {"$match": {"ts": {"$gte": lo, "$lt": hi}, **MESSAGE_SENT}},
                    {"$group": {"_id": "$rid", "n": {"$sum": cond}, "before": {"$sum": {"$subtract": [1, cond]}}}},
                ],
                allowDiskUse=True,
            )
        )
        rows = [r for r in rows if types.get(r["_id"]) in ("c", "p", "d")]
        rows.sort(key=lambda r: (-r["n"], r["_id"]))
        list(db.rocketchat_room.find({"_id": {"$in": [r["_id"] for r in rows[:50]]}}))

    def number(d: datetime) -> int:
        return int(d.strftime("%Y%m%d"))

    match = {"type": "messages", "date": {"$gte": number(first), "$lte": number(anchor)}}

    def peer_origin():
        list(
            db.rocketchat_analytics.aggregate(
                [{"$match": match}, {"$group": {"_id": "$room.t", "n": {"$sum": "$messages"}}}]
            )
        )

    def peer_top():
        group = {"_id": {"t": "$room.t", "name": "$room.name"}, "n": {"$sum": "$messages"}}
        list(
            db.rocketchat_analytics.aggregate(
                [{"$match": match}, {"$group": group}, {"$sort": {"n": -1}}, {"$limit": 5}]
            )
        )

    def peer_rooms():
        """Rocket.Chat's findRoomsByTypesWithNumberOfMessagesBetweenDate: rooms joined with their counters."""

        def counters(a: int, b: int, name: str) -> dict:
            condition: list[dict] = [{"$eq": ["$room._id", "$$id"]}, {"$eq": ["$type", "messages"]}]
            condition += [{"$gte": ["$date", a]}, {"$lte": ["$date", b]}]
            return {
                "$lookup": {
                    "from": "rocketchat_analytics",
                    "let": {"id": "$_id"},
                    "pipeline": [{"$match": {"$expr": {"$and": condition}}}],
                    "as": name,
                }
            }

        before_last = number(first - timedelta(days=1))
        pipeline = [
            {"$match": {"t": {"$in": ["c", "p", "d"]}}},
            counters(number(first), number(anchor), "messages"),
            counters(number(lo), before_last, "lastWeekMessages"),
            {
                "$project": {
                    "room": {"_id": "$_id", "name": "$name", "t": "$t", "ts": "$ts", "_updatedAt": "$_updatedAt"},
                    "messages": {"$sum": "$messages.messages"},
                    "lastWeekMessages": {"$sum": "$lastWeekMessages.messages"},
                }
            },
            {"$match": {"$or": [{"messages": {"$gt": 0}}, {"lastWeekMessages": {"$gt": 0}}]}},
            {"$sort": {"messages": -1}},
            {"$facet": {"channels": [{"$skip": 0}, {"$limit": 50}], "total": [{"$count": "n"}]}},
        ]
        list(db.rocketchat_room.aggregate(pipeline, allowDiskUse=True, maxTimeMS=600_000))

    out: dict = {}
    for name, raw, peer in (
        ("origin", raw_origin, peer_origin),
        ("top-five", raw_top, peer_top),
        ("list", raw_list, peer_rooms),
    ):
        out[name] = {"raw": summary([timed(raw) for _ in range(runs)])}
        if name != "list" or peer_list:  # Rocket.Chat's list query joins every room: minutes, so asked for once
            out[name]["peer"] = summary([timed(peer) for _ in range(1 if name == "list" else runs)])
    return out


async def service(args, db, mongo_url_for, anchor: datetime, ranges: list[int]) -> dict:
    from bench.dataset import BENCH_TOKEN, BENCH_USER_ID

    headers = {"X-User-Id": BENCH_USER_ID, "X-Auth-Token": BENCH_TOKEN}
    env = service_env(mongo_url_for, args.database)

    async def get(session, target: str) -> tuple[float, bytes]:
        return await timed_read(session, target, headers)

    async def after(server, port: int, out: dict) -> None:
        out["freshness"] = await freshness(session, db, port, anchor, get)
        rss_before = memory_mb(server.process.pid, "VmRSS")
        began = time.perf_counter()
        _, body = await get(session, url(port, "list", anchor, ranges[-1], "&format=csv"))
        out["csv"] = {
            "days": ranges[-1],
            "rows": body.count(b"\n") - 1,
            "bytes": len(body),
            "seconds": round(time.perf_counter() - began, 2),
            "rss_mb_before": rss_before,
            "rss_mb_after": memory_mb(server.process.pid, "VmRSS"),
            "rss_mb_peak": memory_mb(server.process.pid, "VmHWM"),
        }
        out["first_page"] = json.loads((await get(session, url(port, "list", anchor, ranges[-1])))[1])["total"]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        return await cold_and_warm(
            args,
            session,
            db,
            env,
            ENDPOINTS,
            ranges,
            lambda port, endpoint, days: url(port, endpoint, anchor, days),
            headers,
            after,
        )


async def freshness(session, db, port: int, anchor: datetime, get, runs: int = 10) -> dict:
    """A message inserted now into today's busiest room: how long until origin, top five and the list (sorted by
    messages) all count it."""
    from bson import ObjectId

    samples = []
    for _ in range(runs):
        now = datetime.now(UTC)
        targets = [url(port, e, now + timedelta(seconds=1), 0) for e in ENDPOINTS]
        before = [json.loads((await get(session, t))[1]) for t in targets]
        top = before[1]["channels"]
        rid = top[0]["_id"] if top else db.rocketchat_room.find_one({"t": "c"})["_id"]
        began = time.perf_counter()
        doc = {"_id": str(ObjectId()), "rid": rid, "msg": "fresh", "ts": now, "u": {"_id": "x"}}
        db.rocketchat_message.insert_one(doc)
        while time.perf_counter() - began < 30:
            after = [json.loads((await get(session, t))[1]) for t in targets]
            if all(_count(a, rid) == _count(b, rid) + 1 for a, b in zip(after, before, strict=True)):
                break
            await asyncio.sleep(0.005)
        samples.append(time.perf_counter() - began)
    return summary(samples)


def _count(body: dict, rid: str) -> int:
    """All messages (origin), or the room's (top five, the list's first page)."""
    if "origins" in body:
        return sum(o["messages"] for o in body["origins"])
    for row in body["channels"]:
        if row.get("_id", row.get("room", {}).get("_id")) == rid:
            return row["messages"]
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.endpoints", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--rooms", type=int, default=5_000)
    parser.add_argument("--ranges", default="7,30,90,365", help="range lengths in days, comma-separated")
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument(
        "--peer-list-ranges", default="7", help="ranges at which Rocket.Chat's list query runs (it takes minutes)"
    )
    parser.add_argument("--warm-runs", type=int, default=30)
    parser.add_argument("--database", default=None, help="default: engagement_bench_<messages>_<days>_<rooms>")
    parser.add_argument("--output", default=None, help="default: bench/results/endpoints-<rooms>-rooms.json")
    return parser


def run(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from bench.dataset import existing_anchor, generate
    from engagement_svc.demo.embedded import EmbeddedMongo

    args.progress = lambda text: print(text, flush=True)
    args.database = args.database or f"engagement_bench_{args.messages}_{args.days}_{args.rooms}"
    output = Path(args.output or f"bench/results/endpoints-{args.rooms}-rooms.json")
    ranges = [int(d) for d in args.ranges.split(",")]
    mongo = EmbeddedMongo(cache_gb=4, data_dir=str(Path("bench/data").resolve()))
    mongo.start(timeout=120)
    client: MongoClient = MongoClient(mongo.url, tz_aware=True)
    try:
        db = client[args.database]
        anchor = existing_anchor(db, args.messages, args.days, args.rooms)
        if anchor is None:
            args.progress(f"generating {args.messages:,} messages over {args.days} days in {args.rooms:,} rooms")
            anchor = generate(db, args.messages, args.days, args.rooms, progress=args.progress)
        report: dict = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": {
                "messages": args.messages,
                "days": args.days,
                "rooms": args.rooms,
                "anchor": anchor.isoformat(),
            },
            "database": {},
        }
        for days in ranges:
            peer_list = str(days) in args.peer_list_ranges.split(",")
            report["database"][str(days)] = raw_and_peer(db, anchor, days, args.raw_runs, peer_list)
            args.progress(f"  raw and peer {days}-day: {report['database'][str(days)]}")
        report["service"] = asyncio.run(service(args, db, mongo.url_for, anchor, ranges))
        write_report(output, report)
        return 0
    finally:
        client.close()
        mongo.stop()


if __name__ == "__main__":
    raise SystemExit(run(build_parser().parse_args()))

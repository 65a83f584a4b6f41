"""Issue 25's figures in `make bench` (part `rooms` of bench.run): one room's story, the silent list, a team's list
and what one new message costs at many rooms. Asserts nothing; every figure carries the load average (1 minute) of
the moment, the machine's cores being shared.

- warm: in one fresh process, a first request (not measured), then `--warm-runs`: channels/room of the busiest room
  (`room-0`, the dataset's rank 0), a page (count 50) of channels/list?activity=silent, and the default list of the
  busiest room's team (channels/list?teamId=), each at 7 and 365 days (UTC, ending at the dataset's anchor);
- cold: each at the same ranges, `--cold-runs` times in turns: the raw MongoDB aggregation of the same answer (`RAW`
  names it), then a fresh process on an empty state database answering its first request;
- live: in a running process whose 7-day list (to now) is kept, rounds of `PER_ROUND` (a message inserted into
  `rocketchat_message` in a random channel, group or direct room, `SETTLE` s for the change stream to bring it,
  then the next channels/list request), against control rounds without the insert (the request alone) and idle
  ones (neither, the same time); the service's CPU
  (/proc/<pid>/stat utime + stime) per message and request, the median of `--live-rounds` rounds each. After each
  round messages-sent's count is read (outside the measure) to check the messages were counted. The messages are
  deleted at the end;
- in-process (bench/rooms_live.py): the report's own CPU after one new message, the old way (the list made again and
  sorted) beside the kept list's (the room moved), at the dataset's room count: the A/B the running server cannot
  give in one run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from engagement_svc.days import iso_z

DASHBOARD = "/api/v1/engagement-dashboard"
DAYS = (7, 365)
PER_ROUND = 10  # messages per round: /proc's CPU times tick every 10 ms, so a round's total is divided by them
SETTLE = 0.3  # seconds between an insert and the request (the change stream's delivery; p95 freshness is ~60 ms)
PAGE = "count=50"
# Each round: (insert a message, then ask the list), per step; the idle rounds measure the process's own background
# (the change streams' empty polls, the driver's heartbeats) over the same time.
VARIANTS = ((False, False, "idle_ms"), (False, True, "without_ms"), (True, True, "with_message_ms"))
RAW = {
    "room": "rocketchat_message: $match the room's sent messages of the range and the range before (the {rid, ts} "
    "index), then one $facet: per UTC day messages and $addToSet authors, the period's and the previous range's "
    "counts and authors, the top five authors ($lookup users for the username), messages by $hour",
    "silent": "rocketchat_room: $match t in [c, p], $lookup (localField _id = rid) each room's sent messages of the "
    "range and the range before grouped into messages, previous, authors; $match messages 0; $facet total and "
    "the first page ($sort -messages, _id; $limit 50; $lookup the last message before the range's end)",
    "team": "rocketchat_room: $match teamId, t in [c, p, d], $lookup as for silent; $match messages or previous "
    "above 0; $facet total and the first page ($sort -messages, _id; $limit 50; $lookup the last message)",
}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def _sent() -> dict:
    from engagement_svc.rocketchat.documents import MESSAGE_SENT

    return dict(MESSAGE_SENT)


def first_of(anchor: datetime, days: int) -> datetime:
    return anchor.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)


def url(port: int, case: str, anchor: datetime, days: int, room: str, team: str) -> str:
    extra = {"room": f"roomId={room}", "silent": f"activity=silent&{PAGE}", "team": f"teamId={team}&{PAGE}"}[case]
    path = "channels/room" if case == "room" else "channels/list"
    start = first_of(anchor, days) + timedelta(hours=12)
    query = f"start={iso_z(start)}&end={iso_z(anchor)}&timezone=UTC&{extra}"
    return f"http://127.0.0.1:{port}{DASHBOARD}/{path}?{query}"


def raw_room(db, rid: str, first: datetime, hi: datetime) -> list:
    lo = first - (hi - first)
    now = {"$match": {"ts": {"$gte": first}}}
    in_range = {"$gte": ["$ts", first]}
    day = {"$dateTrunc": {"date": "$ts", "unit": "day"}}
    pipeline = [
        {"$match": {"rid": rid, "ts": {"$gte": lo, "$lt": hi}, **_sent()}},
        {
            "$facet": {
                "days": [
                    now,
                    {"$group": {"_id": day, "messages": {"$sum": 1}, "posters": {"$addToSet": "$u._id"}}},
                    {"$project": {"messages": 1, "posters": {"$size": "$posters"}}},
                    {"$sort": {"_id": 1}},
                ],
                "period": [
                    {
                        "$group": {
                            "_id": None,
                            "messages": {"$sum": {"$cond": [in_range, 1, 0]}},
                            "before": {"$sum": {"$cond": [in_range, 0, 1]}},
                            "posters": {"$addToSet": {"$cond": [in_range, "$u._id", "$$REMOVE"]}},
                        }
                    },
                    {"$project": {"messages": 1, "before": 1, "posters": {"$size": "$posters"}}},
                ],
                "top": [
                    now,
                    {"$group": {"_id": "$u._id", "messages": {"$sum": 1}}},
                    {"$sort": {"messages": -1, "_id": 1}},
                    {"$limit": 5},
                    {"$lookup": {"from": "users", "localField": "_id", "foreignField": "_id", "as": "user"}},
                    {"$project": {"messages": 1, "username": {"$first": "$user.username"}}},
                ],
                "hours": [now, {"$group": {"_id": {"$hour": {"date": "$ts", "timezone": "UTC"}}, "n": {"$sum": 1}}}],
            }
        },
    ]
    return list(db.rocketchat_message.aggregate(pipeline))


def _rows(rooms: dict, first: datetime, hi: datetime, keep: dict) -> list[dict]:
    """The rooms matched by `rooms`, each with its messages, previous and posters; those matching `keep`; the total
    and the first page with each row's last message."""
    lo = first - (hi - first)
    in_range = {"$gte": ["$ts", first]}
    counts = [
        {"$match": {"ts": {"$gte": lo, "$lt": hi}, **_sent()}},
        {
            "$group": {
                "_id": None,
                "messages": {"$sum": {"$cond": [in_range, 1, 0]}},
                "previous": {"$sum": {"$cond": [in_range, 0, 1]}},
                "posters": {"$addToSet": {"$cond": [in_range, "$u._id", "$$REMOVE"]}},
            }
        },
    ]
    last = [{"$match": {"ts": {"$lt": hi}, **_sent()}}, {"$sort": {"ts": -1}}, {"$limit": 1}, {"$project": {"ts": 1}}]
    return [
        {"$match": rooms},
        {"$project": {"t": 1, "name": 1, "usersCount": 1}},
        {
            "$lookup": {
                "from": "rocketchat_message",
                "localField": "_id",
                "foreignField": "rid",
                "pipeline": counts,
                "as": "n",
            }
        },
        {"$set": {"n": {"$first": "$n"}}},
        {
            "$set": {
                "messages": {"$ifNull": ["$n.messages", 0]},
                "previous": {"$ifNull": ["$n.previous", 0]},
                "posters": {"$size": {"$ifNull": ["$n.posters", []]}},
            }
        },
        {"$match": keep},
        {
            "$facet": {
                "total": [{"$count": "n"}],
                "page": [
                    {"$sort": {"messages": -1, "_id": 1}},
                    {"$limit": 50},
                    {
                        "$lookup": {
                            "from": "rocketchat_message",
                            "localField": "_id",
                            "foreignField": "rid",
                            "pipeline": last,
                            "as": "last",
                        }
                    },
                    {"$project": {"n": 0}},
                ],
            }
        },
    ]


def raw_ms(db, case: str, first: datetime, days: int, room: str, team: str) -> float:
    hi = first + timedelta(days=days)
    began = time.perf_counter()
    if case == "room":
        raw_room(db, room, first, hi)
    elif case == "silent":
        list(db.rocketchat_room.aggregate(_rows({"t": {"$in": ["c", "p"]}}, first, hi, {"messages": 0})))
    else:
        rooms = {"teamId": team, "t": {"$in": ["c", "p", "d"]}}
        keep = {"$or": [{"messages": {"$gt": 0}}, {"previous": {"$gt": 0}}]}
        list(db.rocketchat_room.aggregate(_rows(rooms, first, hi, keep)))
    return round((time.perf_counter() - began) * 1000, 1)


def cpu_ms(pid: int) -> float:
    """The process's user and system CPU so far (every thread), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def live(args, read: Callable[[str], Awaitable[tuple[float, bytes]]], db, port: int, pid: int) -> dict:
    """CPU per new message and the next list request, against rounds without the message (see the docstring)."""
    import json

    from engagement_svc.demo.dataset import message_doc

    now = datetime.now(UTC)
    start = iso_z(first_of(now, 7))
    list_url = f"http://127.0.0.1:{port}{DASHBOARD}/channels/list?start={start}&end={iso_z(now)}&timezone=UTC"
    sent_url = f"http://127.0.0.1:{port}{DASHBOARD}/messages/messages-sent?start={start}&end={iso_z(now)}&timezone=UTC"
    rids = [r["_id"] for r in db.rocketchat_room.find({"t": {"$in": ["c", "p", "d"]}}, {"_id": 1})]
    author = db.users.find_one({"username": "user1"})
    rng = random.Random(11)
    for _ in range(2):  # the list made and kept
        await read(list_url)

    async def counted() -> int:
        return json.loads((await read(sent_url))[1])["period"]["count"]

    async def round_ms(insert: bool, request: bool) -> tuple[float, bool]:
        before = await counted()
        began = cpu_ms(pid)
        for i in range(PER_ROUND):
            if insert:
                doc = message_doc(f"rooms-live-{time.time_ns()}-{i}", rng.choice(rids), datetime.now(UTC), author)
                db.rocketchat_message.insert_one(doc)
            await asyncio.sleep(SETTLE)
            if request:
                await read(list_url)
        spent = (cpu_ms(pid) - began) / PER_ROUND
        return spent, await counted() == before + (PER_ROUND if insert else 0)

    samples: dict[str, list[float]] = {"with_message_ms": [], "without_ms": [], "idle_ms": []}
    missed = 0
    loads = []
    try:
        for r in range(args.live_rounds):
            for insert, request, name in VARIANTS:
                spent, ok = await round_ms(insert, request)
                samples[name].append(round(spent, 2))
                missed += not ok
            loads.append(load())
            args.progress(
                f"  live round {r + 1}: with a message {samples['with_message_ms'][-1]:.1f} ms CPU, without "
                f"{samples['without_ms'][-1]:.1f} ms, idle {samples['idle_ms'][-1]:.1f} ms (load {loads[-1]})"
            )
    finally:
        db.rocketchat_message.delete_many({"_id": {"$regex": "^rooms-live-"}})
    w, wo, idle = (median(samples[k]) for k in ("with_message_ms", "without_ms", "idle_ms"))
    return samples | {
        "per_message_ms": round(w - wo, 2),
        "message_and_request_ms": round(w - idle, 2),
        "with_median_ms": w,
        "without_median_ms": wo,
        "idle_median_ms": idle,
        "rounds_not_counted": missed,
        "rooms": len(rids),
        "per_round": PER_ROUND,
        "load": loads,
    }


async def figures(args, session, db, env: dict, headers: dict, anchor: datetime) -> dict:
    """Cold beside raw, warm and live, as the module's docstring says."""
    from bench.run import SERVE, Server, cold_ms, memory_mb, summary, timed_read
    from engagement_svc.demo.embedded import free_port

    busy = db.rocketchat_room.find_one({"name": "room-0"}, {"teamId": 1})
    room, team = busy["_id"], busy["teamId"]
    out: dict[str, Any] = {"room": room, "team": team, "raw": RAW, "cold": {}, "warm": {}}
    out["team_rooms"] = db.rocketchat_room.count_documents({"teamId": team})

    async def read(target: str) -> tuple[float, bytes]:
        return await timed_read(session, target, headers)

    for case in RAW:
        for days in DAYS:
            first = first_of(anchor, days)
            f: dict[str, Any] = {"raw_ms": [], "cold_ms": [], "load": []}
            for _ in range(args.cold_runs):
                f["raw_ms"].append(raw_ms(db, case, first, days, room, team))
                target_of = lambda port, c=case, d=days: url(port, c, anchor, d, room, team)  # noqa: E731
                f["cold_ms"].append(await cold_ms(session, db, env, target_of, headers))
                f["load"].append(load())
            f["cold_over_raw"] = round(median(f["cold_ms"]) / median(f["raw_ms"]), 2)
            out["cold"].setdefault(case, {})[str(days)] = f
            args.progress(
                f"  cold {case} {days}-day: {median(f['cold_ms']):,.0f} ms beside raw {median(f['raw_ms']):,.0f} ms "
                f"({f['cold_over_raw']}x; load {f['load']})"
            )
    db.client.drop_database(db.name + "_state")
    port = free_port()
    server = Server([*SERVE, str(port)], env, port)
    try:
        await server.ready(session)
        for case in RAW:
            for days in DAYS:
                target = url(port, case, anchor, days, room, team)
                _, body = await read(target)
                samples = [(await read(target))[0] for _ in range(args.warm_runs)]
                w = summary(samples) | {"bytes": len(body), "load": load()}
                out["warm"].setdefault(case, {})[str(days)] = w
                args.progress(f"  warm {case} {days}-day: {w}")
        out["live"] = await live(args, read, db, port, server.process.pid)
        out["rss_mb_peak"] = memory_mb(server.process.pid, "VmHWM")
    finally:
        server.stop()
    db.client.drop_database(db.name + "_state")
    return out


def in_process(rooms: int, runs: int) -> dict:
    """bench/rooms_live.py at the dataset's room count (it runs its own event loops: call it outside one)."""
    from bench import rooms_live

    return rooms_live.measure(rooms, runs) | {"load": load()}


def table(figures_: dict) -> str:
    lines = [f"issue 25 (room {figures_['room']}, team {figures_['team']} of {figures_['team_rooms']} rooms)"]
    lines.append(
        f"{'case':>7} | {'range':>5} | {'raw (median)':>12} | {'cold (median)':>13} | cold/raw | warm p50 (p95)"
    )
    for case, by_days in figures_["cold"].items():
        for days, f in by_days.items():
            w = figures_["warm"][case][days]
            lines.append(
                f"{case:>7} | {days + 'd':>5} | {median(f['raw_ms']):>10,.0f}ms | {median(f['cold_ms']):>11,.0f}ms | "
                f"{f['cold_over_raw']:>8.2f} | {w['p50_ms']:.2f} ({w['p95_ms']:.2f}) load {w['load']}"
            )
    for case, text in RAW.items():
        lines.append(f"raw {case}: {text}")
    lv = figures_["live"]
    lines.append(
        f"one new message + the next channels/list request at {lv['rooms']:,} rooms: {lv['with_median_ms']:.1f} ms "
        f"CPU (median of {len(lv['with_message_ms'])} rounds of {lv['per_round']}), without the message "
        f"{lv['without_median_ms']:.1f} ms, idle {lv['idle_median_ms']:.1f} ms: the message and the request "
        f"{lv['message_and_request_ms']:.1f} ms, the message alone {lv['per_message_ms']:.1f} ms; rounds not counted "
        f"{lv['rounds_not_counted']}; load {lv['load']}"
    )
    if "in_process" in figures_:
        p = figures_["in_process"]
        lines.append(
            f"in-process at {p['rooms']:,} rooms: the list made again {p['before_ms']:.1f} ms CPU, the room moved "
            f"{p['after_ms']:.2f} ms (first request {p['first_ms']:.0f} ms); load {p['load']}"
        )
    return "\n".join(lines)

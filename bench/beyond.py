"""The three endpoints beyond Rocket.Chat's dashboard (issue 24) in the benchmarks: people posting, active users by
client and the members table. Used by `bench.run` (the 1M run and its A/B) and `bench.big` (the big-server run).
Asserts nothing.

- warm: posting-users and clients at every range; the members table's first page (count 50) over 365 days sorted
  by each key, ascending and descending, and the dormant seats by last active;
- cold: a fresh process on an empty state database (no backfill) answering each endpoint at 7 and 365 days, in
  turns with the raw MongoDB aggregation an admin would write for the same answer (`RAW`), both timed in the same
  run.

The raw aggregations (UTC days, the sent-message and session rules as the service applies them):
- posting-users: the messages sent over the days the answer reads (the range, the 29 days its first MAU window
  reaches back, and the range before it for `variation`), `$group` by local day (`$dateToString` in the zone) and
  `u._id`, then `$group` by day counting authors (the daily figure; WAU, MAU and the period need the pairs again);
- clients: the sessions overlapping the range, each spread over the UTC days it covers, `$group` by day, user and
  `device.type`, then by day and `device.type` counting users;
- members: two aggregations timed together: the messages sent up to the range's end `$group` by `u._id` and room
  (messages in the range, and the latest `ts`: last posted as far back as the data goes; the room's type makes
  channel messages), and the sessions up to the range's end `$group` by `userId` (the latest login: last active;
  the set of (local day of the login, `device.type`) in the range: days active per client).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from engagement_svc.days import iso_z

DASHBOARD = "/api/v1/engagement-dashboard"
PATHS = {"posting-users": "users/posting-users", "clients": "users/clients", "members": "users/members"}
RANGED = ("posting-users", "clients")  # measured warm at every range; the members table at MEMBERS_DAYS
MEMBERS_DAYS = 365
MEMBER_KEYS = ("messages", "channelMessages", "daysActive", "lastActive", "lastPosted", "username", "createdAt")
# The members table's first pages: each key ascending and descending, and the dormant seats longest unused first.
MEMBER_PAGES: dict[str, str] = {
    **{f"members {s}{k}": f"count=50&sort={s}{k}" for k in MEMBER_KEYS for s in ("", "-")},
    "members dormant lastActive": "count=50&sort=lastActive&activity=dormant",
}
COLD_DAYS = (7, 365)
MONTH_BEFORE = 29  # the days before the range a posting-users answer reads (its first day's 30-day window)


def cases(ranges) -> list[tuple[str, str, int, str]]:
    """What is measured warm: (label, endpoint, days, extra query)."""
    out = [(endpoint, endpoint, days, "") for endpoint in RANGED for days in ranges]
    out += [(label, "members", MEMBERS_DAYS, extra) for label, extra in MEMBER_PAGES.items()]
    return out


def url(port: int, endpoint: str, start: datetime, end: datetime, zone: str, extra: str = "") -> str:
    query = f"start={iso_z(start)}&end={iso_z(end)}&timezone={zone}" + (f"&{extra}" if extra else "")
    return f"http://127.0.0.1:{port}{DASHBOARD}/{PATHS[endpoint]}?{query}"


def _url_of_port(endpoint: str, start: datetime, end: datetime, zone: str, extra: str, port: int) -> str:
    return url(port, endpoint, start, end, zone, extra)


def _sent() -> dict:
    from engagement_svc.rocketchat.documents import MESSAGE_SENT

    return dict(MESSAGE_SENT)


def _session_filter(lo: datetime | None, hi: datetime) -> dict:
    """The session rule; sessions that may overlap [lo, hi) (Rocket.Chat's 01:05 copies by their `createdAt`)."""
    window: dict = {"$lt": hi} if lo is None else {"$gte": lo - timedelta(days=3), "$lt": hi}
    return {
        "$or": [{"loginAt": window}, {"createdAt": window}],
        "type": {"$in": ["session", "computed-session"]},
        "userId": {"$exists": True},
        "mostImportantRole": {"$ne": "anonymous"},
    }


def raw_posting(db, lo: datetime, hi: datetime, zone: str) -> list:
    day = {"$dateToString": {"format": "%Y-%m-%d", "date": "$ts", "timezone": zone}}
    pipeline = [
        {"$match": {"ts": {"$gte": lo, "$lt": hi}, **_sent()}},
        {"$group": {"_id": {"d": day, "u": "$u._id"}}},
        {"$group": {"_id": "$_id.d", "users": {"$sum": 1}}},
    ]
    return list(db.rocketchat_message.aggregate(pipeline, allowDiskUse=True))


def raw_clients(db, lo: datetime, hi: datetime) -> list:
    lo_ms, hi_ms, day_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000), 86_400_000
    end = {
        "$switch": {
            "branches": [
                {"case": {"$eq": [{"$type": "$" + f}, "date"]}, "then": {"$toLong": "$" + f}}
                for f in ("closedAt", "logoutAt", "lastActivityAt")
            ],
            "default": {"$toLong": "$$NOW"},
        }
    }
    pipeline = [
        {"$match": _session_filter(lo, hi)},
        {
            "$project": {
                "u": "$userId",
                "c": "$device.type",
                "a": {"$max": [{"$toLong": "$loginAt"}, lo_ms]},
                "b": {"$min": [end, hi_ms]},
            }
        },
        {"$match": {"$expr": {"$gt": ["$b", "$a"]}}},
        {
            "$project": {
                "u": 1,
                "c": 1,
                "t": {
                    "$range": [
                        {"$toInt": {"$floor": {"$divide": ["$a", day_ms]}}},
                        {"$toInt": {"$ceil": {"$divide": ["$b", day_ms]}}},
                    ]
                },
            }
        },
        {"$unwind": "$t"},
        {"$group": {"_id": {"t": "$t", "u": "$u", "c": "$c"}}},
        {"$group": {"_id": {"t": "$_id.t", "c": "$_id.c"}, "users": {"$sum": 1}}},
    ]
    return list(db.rocketchat_sessions.aggregate(pipeline, allowDiskUse=True))


def raw_members(db, lo: datetime, hi: datetime, zone: str) -> list:
    in_range = {"$gte": ["$ts", lo]}
    messages = [
        {"$match": {"ts": {"$lt": hi}, **_sent()}},
        {
            "$group": {
                "_id": {"u": "$u._id", "r": "$rid"},
                "messages": {"$sum": {"$cond": [in_range, 1, 0]}},
                "lastPosted": {"$max": "$ts"},
            }
        },
    ]
    day = {"$dateToString": {"format": "%Y-%m-%d", "date": "$loginAt", "timezone": zone}}
    sessions = [
        {"$match": _session_filter(None, hi)},
        {
            "$group": {
                "_id": "$userId",
                "lastActive": {"$max": "$loginAt"},
                "days": {
                    "$addToSet": {"$cond": [{"$gte": ["$loginAt", lo]}, {"d": day, "c": "$device.type"}, "$$REMOVE"]}
                },
            }
        },
    ]
    return [
        list(db.rocketchat_message.aggregate(messages, allowDiskUse=True)),
        list(db.rocketchat_sessions.aggregate(sessions, allowDiskUse=True)),
    ]


def raw_ms(db, endpoint: str, first: datetime, days: int, zone: str) -> float:
    """The raw aggregation for `endpoint`'s answer over the `days` UTC days from `first` (a midnight)."""
    hi = first + timedelta(days=days)
    began = time.perf_counter()
    if endpoint == "posting-users":
        raw_posting(db, first - timedelta(days=max(MONTH_BEFORE, days)), hi, zone)
    elif endpoint == "clients":
        raw_clients(db, first, hi)
    else:
        raw_members(db, first, hi, zone)
    return round((time.perf_counter() - began) * 1000, 1)


async def cold_beside_raw(
    progress: Callable[[str], None],
    db,
    cold_ms: Callable[[Callable[[int], str]], Awaitable[float]],
    anchor: datetime,
    zone: str,
    runs: int,
    cold_days=COLD_DAYS,
) -> dict:
    """Per endpoint and range: `runs` cold first answers (`cold_ms(url_of_port)`: a fresh process, an empty state
    database), each right after the raw aggregation of the same answer; the medians and their ratio."""
    out: dict = {}
    for days in cold_days:
        first = anchor.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        for endpoint in PATHS:
            extra = "count=50" if endpoint == "members" else ""
            samples: dict[str, list[float]] = {"raw_ms": [], "cold_ms": []}
            target_of = functools.partial(_url_of_port, endpoint, first, anchor, zone, extra)
            figures: dict[str, Any] = {}
            for _ in range(runs):
                samples["raw_ms"].append(raw_ms(db, endpoint, first, days, zone))
                try:
                    samples["cold_ms"].append(await cold_ms(target_of))
                except RuntimeError as error:  # a 503 past the deadline: said, and the run goes on
                    figures.setdefault("errors", []).append(str(error)[:300])
            figures |= samples
            if samples["cold_ms"]:
                figures["cold_over_raw"] = round(median(samples["cold_ms"]) / median(samples["raw_ms"]), 2)
            out.setdefault(endpoint, {})[str(days)] = figures
            cold = f"{median(samples['cold_ms']):,.0f} ms" if samples["cold_ms"] else "failed"
            progress(
                f"  cold {endpoint} {days}-day: {cold} beside raw {median(samples['raw_ms']):,.0f} ms "
                f"({figures.get('cold_over_raw', '-')}x) {figures.get('errors', '')}"
            )
    return out


async def warm(progress, read, port: int, anchor: datetime, zone: str, ranges, runs: int, pid: int = 0) -> dict:
    """Every case of `cases(ranges)` in one running process: a first request (its time apart), then `runs`.
    `read(url)` is one request's (seconds, body). With the process's `pid`, its resident memory after each case."""
    from bench.run import memory_mb, summary

    out: dict = {}
    for label, endpoint, days, extra in cases(ranges):
        first = anchor.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        target = url(port, endpoint, first, anchor, zone, extra)
        progress(f"  warm {label} {days}-day: first request...")
        first_s, body = await read(target)
        samples = [(await read(target))[0] for _ in range(runs)]
        first_ms = round(first_s * 1000, 1)
        out.setdefault(label, {})[str(days)] = summary(samples) | {"bytes": len(body), "first_ms": first_ms}
        if pid:
            out[label][str(days)]["rss_mb_after"] = memory_mb(pid, "VmRSS")
        progress(f"  warm {label} {days}-day: {out[label][str(days)]}")
    return out


def table(cold: dict, warm_figures: dict) -> str:
    """Cold beside raw, then warm p50 (p95)."""
    lines = [f"{'endpoint':>14} | {'range':>5} | {'raw (median)':>12} | {'cold (median)':>13} | cold/raw"]
    for endpoint, by_days in cold.items():
        for days, f in by_days.items():
            figure = f"{median(f['cold_ms']):>11,.0f}ms | {f['cold_over_raw']:>8.2f}" if f["cold_ms"] else "failed"
            lines.append(f"{endpoint:>14} | {days + 'd':>5} | {median(f['raw_ms']):>10,.0f}ms | {figure}")
    lines.append("")
    lines.append(f"{'warm':>30} | {'range':>5} | p50 (p95) ms")
    for label, by_days in warm_figures.items():
        for days, f in by_days.items():
            lines.append(f"{label:>30} | {days + 'd':>5} | {f['p50_ms']:.2f} ({f['p95_ms']:.2f})")
    return "\n".join(lines)

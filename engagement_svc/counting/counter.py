"""Counting a metric from its source collection: per key and UTC slot, for whole UTC days, in one aggregation.

The time field's index bounds the scan (one range per run of days). The metric's rule decides inside the
`$group` which documents count, so the same scan also yields every document of the day (`raw`): a later deletion
makes `raw` disagree with a fresh index-only count, which is how deletions on closed days are found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime

from engagement_svc.counting import rules
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.counting.slots import SLOT_MS, SLOTS_PER_DAY, utc_day_start

Cells = dict[tuple[str, int], int]
DAY_MS = SLOT_MS * SLOTS_PER_DAY


def day_runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted days as runs [first, end) of consecutive days."""
    runs: list[tuple[int, int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + 1)
        else:
            runs.append((day, day + 1))
    return runs


def in_days(metric: Metric, days: Iterable[int]) -> dict:
    """A `$match` of the documents whose time lies in these UTC days (one range per run of days)."""
    t = metric.time_field
    ranges = [{t: {"$gte": utc_day_start(a), "$lt": utc_day_start(b)}} for a, b in day_runs(days)]
    return ranges[0] if len(ranges) == 1 else {"$or": ranges}


def number_of(metric: Metric, unit_ms: int) -> dict:
    """The document's time as a number of `unit_ms` units since the epoch (its slot, or its UTC day)."""
    return {"$floor": {"$divide": [{"$toLong": "$" + metric.time_field}, unit_ms]}}


def pipeline(metric: Metric, days: Iterable[int], params: rules.Params = rules.NO_PARAMS) -> list[dict]:
    """Per UTC day: the keys, their slots and counts (parallel arrays), and every document of the day."""
    slot = number_of(metric, SLOT_MS)
    return [
        {"$match": in_days(metric, days)},
        {
            "$group": {
                "_id": {"s": slot, "k": metric.key_expression(params)},
                "n": {"$sum": {"$cond": [rules.as_expression(metric.rule, params), 1, 0]}},
                "all": {"$sum": 1},
            }
        },
        {
            "$group": {
                "_id": {"$floor": {"$divide": ["$_id.s", SLOTS_PER_DAY]}},
                "k": {"$push": "$_id.k"},
                "s": {"$push": "$_id.s"},
                "n": {"$push": "$n"},
                "raw": {"$sum": "$all"},
            }
        },
    ]


def cells_by_day(docs: Iterable[Mapping]) -> dict[int, tuple[Cells, int]]:
    """The pipeline's output as (key, slot within the day) -> count, per day, with the day's raw count."""
    out: dict[int, tuple[Cells, int]] = {}
    for doc in docs:
        day = int(doc["_id"])
        base = day * SLOTS_PER_DAY
        cells: Cells = {}
        for key, slot, n in zip(doc["k"], doc["s"], doc["n"], strict=True):
            if n and isinstance(key, str):
                cells[(key, int(slot) - base)] = n
        out[day] = (cells, doc["raw"])
    return out


async def count_days(
    db, metric: Metric, days: list[int], params: rules.Params = rules.NO_PARAMS
) -> dict[int, ClosedDay]:
    """Every requested day (days without any document too), counted in one aggregation."""
    if not days:
        return {}
    cursor = await db[metric.collection].aggregate(pipeline(metric, days, params), allowDiskUse=True)
    found = cells_by_day([doc async for doc in cursor])
    return {d: ClosedDay(d, *found.get(d, ({}, 0))) for d in days}


async def count_at(
    db, metric: Metric, days: list[int], cluster_time, params: rules.Params = rules.NO_PARAMS
) -> dict[int, tuple[Cells, int]]:
    """The same count as a snapshot read at a cluster time (what a change stream then continues from)."""
    reply = await db.command(
        {
            "aggregate": metric.collection,
            "pipeline": pipeline(metric, days, params),
            "cursor": {},
            "allowDiskUse": True,
            "readConcern": {"level": "snapshot", "atClusterTime": cluster_time},
        }
    )
    batch = list(reply["cursor"]["firstBatch"])
    cursor_id = reply["cursor"]["id"]
    while cursor_id:
        more = await db.command({"getMore": cursor_id, "collection": metric.collection})
        batch += more["cursor"]["nextBatch"]
        cursor_id = more["cursor"]["id"]
    return cells_by_day(batch)


async def raw_counts(db, metric: Metric, days: list[int], parallel: int) -> dict[int, int]:
    """Every document per UTC day, from the time field's index alone (no document is read); for a metric whose
    time field Rocket.Chat does not index (users' createdAt), one scan for all the days."""
    if not metric.time_indexed:
        return await _raw_counts_scanned(db, metric, days)

    async def one(day: int) -> tuple[int, int]:
        window = {"$gte": utc_day_start(day), "$lt": utc_day_start(day + 1)}
        return day, await db[metric.collection].count_documents({metric.time_field: window})

    results: dict[int, int] = {}
    for i in range(0, len(days), parallel):
        results.update(await asyncio.gather(*(one(d) for d in days[i : i + parallel])))
    return results


async def _raw_counts_scanned(db, metric: Metric, days: list[int]) -> dict[int, int]:
    if not days:
        return {}
    cursor = await db[metric.collection].aggregate(
        [{"$match": in_days(metric, days)}, {"$group": {"_id": number_of(metric, DAY_MS), "n": {"$sum": 1}}}],
        allowDiskUse=True,
    )
    found = {int(doc["_id"]): doc["n"] async for doc in cursor}
    return {d: found.get(d, 0) for d in days}


async def count_span(
    db, metric: Metric, lo: datetime, hi: datetime, params: rules.Params = rules.NO_PARAMS
) -> dict[str, int]:
    """Counted documents per key in an exact span of time (for spans that are not runs of slots)."""
    cursor = await db[metric.collection].aggregate(
        [
            {"$match": {metric.time_field: {"$gte": lo, "$lt": hi}, **rules.as_query(metric.rule, params)}},
            {"$group": {"_id": metric.key_expression(params), "n": {"$sum": 1}}},
        ]
    )
    return {doc["_id"]: doc["n"] async for doc in cursor if isinstance(doc["_id"], str)}


async def earliest(db, metric: Metric) -> datetime | None:
    """The oldest time of any document (from the index): nothing before it needs counting or keeping."""
    doc = await db[metric.collection].find_one(
        {metric.time_field: {"$type": "date"}}, {metric.time_field: 1}, sort=[(metric.time_field, 1)]
    )
    return None if doc is None else doc[metric.time_field]


async def days_of(db, metric: Metric, field: str, values: list[str]) -> set[int]:
    """The UTC days holding a document whose `field` is one of `values` (the days a changed parameter touches;
    read from `field`'s index)."""
    cursor = await db[metric.collection].aggregate(
        [
            {"$match": {field: {"$in": values}, metric.time_field: {"$type": "date"}}},
            {"$group": {"_id": number_of(metric, DAY_MS)}},
        ]
    )
    return {int(doc["_id"]) async for doc in cursor}


async def param_values(db, collection: str, rule: rules.Rule) -> frozenset[str]:
    """The ids of the documents of `collection` the rule matches (the bot users, say)."""
    return frozenset([doc["_id"] async for doc in db[collection].find(rule, {"_id": 1}) if isinstance(doc["_id"], str)])

"""Counting a metric from its source collection: per key and UTC slot, for whole UTC days, in one aggregation.

The time field's index bounds the scan (one range per run of days). The metric's rule decides inside the
`$group` which documents count, so the same scan also yields every document of the day (`raw`): a later deletion
makes `raw` disagree with a fresh index-only count, which is how deletions on closed days are found. MongoDB groups
by slot only; the keys of a slot are counted here (see `pipeline`).
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, cast

import bson
from bson import Timestamp

from engagement_svc.counting import rules
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.kept import ClosedDay, PresenceDay
from engagement_svc.counting.slots import SLOT_MS, SLOTS_PER_DAY, slot_of, slot_start, utc_day_of, utc_day_start
from engagement_svc.mongo_types import Database, Document, Pipeline, Session

Cells = dict[tuple[str, int], int]
DAY_MS = SLOT_MS * SLOTS_PER_DAY
RUN_BASE = 128  # a run of slots [first, end) within a day, packed as first * RUN_BASE + end
_PAIRS = {  # every run there can be, packed, as its (first, end) bytes
    first * RUN_BASE + end: bytes((first, end))
    for first in range(SLOTS_PER_DAY)
    for end in range(first + 1, SLOTS_PER_DAY + 1)
}


def day_runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted days as runs [first, end) of consecutive days."""
    runs: list[tuple[int, int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + 1)
        else:
            runs.append((day, day + 1))
    return runs


def in_days(metric: Metric, days: Iterable[int]) -> Document:
    """A `$match` of the documents whose time lies in these UTC days (one range per run of days); for an
    interval metric, of the documents that may cover them (time or `also_field` up to `lookback_days` before)."""
    ranges: list[Document] = []
    for a, b in day_runs(days):
        if metric.is_interval:
            window = {"$gte": utc_day_start(a - metric.lookback_days), "$lt": utc_day_start(b)}
            ranges += [{f: window} for f in (metric.time_field, metric.also_field) if f is not None]
        else:
            ranges.append({metric.time_field: {"$gte": utc_day_start(a), "$lt": utc_day_start(b)}})
    return ranges[0] if len(ranges) == 1 else {"$or": ranges}


def number_of(metric: Metric, unit_ms: int) -> Document:
    """The document's time as a number of `unit_ms` units since the epoch (its slot, or its UTC day)."""
    return {"$floor": {"$divide": [{"$toLong": "$" + metric.time_field}, unit_ms]}}


def _is_date(path: str) -> Document:
    return {"$eq": [{"$type": "$" + path}, "date"]}


def _interval_times(metric: Metric) -> tuple[Document, Document, Document]:
    """For a document whose time is a date: its time, its end (its first end that is a date, else now) and its
    lookback bound (the end of the `lookback_days`-th day after the later of its two times), in milliseconds."""
    t, also = metric.time_field, metric.also_field or metric.time_field
    end = {
        "$switch": {
            "branches": [{"case": _is_date(f), "then": {"$toLong": "$" + f}} for f in metric.ends],
            "default": {"$toLong": "$$NOW"},
        }
    }
    later = {
        "$cond": [
            {"$and": [_is_date(also), {"$gt": ["$" + also, "$" + t]}]},
            {"$toLong": "$" + also},
            {"$toLong": "$" + t},
        ]
    }
    bound = {"$multiply": [{"$add": [{"$floor": {"$divide": [later, DAY_MS]}}, metric.lookback_days + 1]}, DAY_MS]}
    return {"$toLong": "$" + t}, end, bound


def _interval_stage(metric: Metric, params: rules.Params) -> Document:
    """A `$project` of an interval metric's document: its key, whether it counts, and the milliseconds it covers
    [t0, t1): from its time to its first end that is a date (else now), cut at the lookback `bound`."""
    t0, end, bound = _interval_times(metric)
    dated = _is_date(metric.time_field)
    return {
        "$project": {
            "_id": 0,
            "k": metric.key_expression(params),
            "ok": {"$and": [dated, rules.as_expression(metric.rule, params)]},
            "t0": {"$cond": [dated, t0, 0]},
            "t1": {"$cond": [dated, {"$min": [end, bound]}, 0]},
            "bound": {"$cond": [dated, bound, 0]},
        }
    }


def _interval_pipeline(metric: Metric, days: Iterable[int], params: rules.Params) -> Pipeline:
    """Per UTC day: the keys present and, per key, the runs of slots its intervals cover within the day (packed,
    see RUN_BASE). One element per interval and day it touches, not per slot: Python spreads the runs."""
    runs = day_runs(days)
    first, end = runs[0][0] * SLOTS_PER_DAY, runs[-1][1] * SLOTS_PER_DAY
    lo = {"$max": [{"$floor": {"$divide": ["$t0", SLOT_MS]}}, first]}
    hi = {"$min": [{"$ceil": {"$divide": ["$t1", SLOT_MS]}}, end]}
    day_of = {"$floor": {"$divide": ["$lo", SLOTS_PER_DAY]}}
    last_day = {"$floor": {"$divide": [{"$subtract": ["$hi", 1]}, SLOTS_PER_DAY]}}
    # The rule is a `$match` (a day of an interval metric keeps no count of all its documents, so those that do not
    # count are dropped before any stage) and the key the plain key when the flag is the key's (`Metric.flag_param`):
    # Python flags each counted key once a day, rather than a `$project` testing every document against the
    # parameter's values and evaluating the rule as an expression.
    t0, end_ms, bound = _interval_times(metric)
    dated = {metric.time_field: {"$type": "date"}}
    stages: Pipeline = [
        {"$match": {"$and": [in_days(metric, days), rules.as_query(metric.rule, params), dated]}},
        {"$project": {"_id": 0, "k": metric.counting_key(params), "t0": t0, "t1": {"$min": [end_ms, bound]}}},
        {"$match": {"$expr": {"$gt": ["$t1", "$t0"]}}},
        {"$project": {"k": 1, "lo": {"$toInt": lo}, "hi": {"$toInt": hi}}},
        {"$match": {"$expr": {"$gt": ["$hi", "$lo"]}}},
        {
            "$project": {
                "k": 1,
                "lo": 1,
                "hi": 1,
                "d": {"$range": [{"$toInt": day_of}, {"$toInt": {"$add": [last_day, 1]}}]},
            }
        },
        {"$unwind": "$d"},
    ]
    if len(runs) > 1:
        stages.append({"$match": {"$or": [{"d": {"$gte": a, "$lt": b}} for a, b in runs]}})
    # Per day, each run cut at the day's edges and packed as one number, first * RUN_BASE + end (both within the
    # day): one array per key, not two of absolute slots, so that Python, on the request's path, only looks each
    # run's bytes up (`_PAIRS`) rather than cutting and spreading absolute slots.
    base = {"$multiply": ["$d", SLOTS_PER_DAY]}
    packed = {
        "$add": [
            {"$multiply": [{"$max": [{"$subtract": ["$lo", base]}, 0]}, RUN_BASE]},
            {"$min": [{"$subtract": ["$hi", base]}, SLOTS_PER_DAY]},
        ]
    }
    return [
        *stages,
        {"$group": {"_id": {"d": "$d", "k": "$k"}, "v": {"$push": packed}}},
        {"$group": {"_id": "$_id.d", "k": {"$push": "$_id.k"}, "v": {"$push": "$v"}, "raw": {"$sum": 0}}},
    ]


def pipeline(metric: Metric, days: Iterable[int], params: rules.Params = rules.NO_PARAMS) -> Pipeline:
    """Per slot (an interval metric: per UTC day), what `by_day` makes the days' parallel arrays of. Per slot: the
    counted documents' keys, one per document, and the number of every document of the slot (`all`). MongoDB
    groups by the slot alone and Python counts the keys (a Counter, in C): a group per slot and key is about one
    per document on a chat server (a room or an author rarely posts twice in 15 minutes), and MongoDB's `$group`
    over that many groups took about 3x as long as this one pass. A slot's keys are one document, so at most 16 MB:
    some 400,000 messages in 15 minutes (440 a second throughout)."""
    if metric.is_interval:
        return _interval_pipeline(metric, days, params)
    counted = {"$cond": [rules.as_expression(metric.rule, params), metric.counting_key(params), "$$REMOVE"]}
    return [
        {"$match": in_days(metric, days)},
        {"$group": {"_id": number_of(metric, SLOT_MS), "k": {"$push": counted}, "all": {"$sum": 1}}},
    ]


def _key_counts(keys: list[Any]) -> Counter[Any]:
    try:
        return Counter(keys)
    except TypeError:  # a key field holding a document or an array (a malformed one): kept under no key
        return Counter(k if isinstance(k, str) else None for k in keys)


def by_day(
    docs: Iterable[Mapping[str, Any]],
    into: dict[int, dict[str, Any]] | None = None,
    names: dict[Any, Any] | None = None,
) -> dict[int, dict[str, Any]]:
    """The pipeline's per-slot documents (of a metric that is not an interval one) as per-day documents of parallel
    arrays: key `k`, slot `s`, count `n`, and the day's every document `raw`, as `built_day` takes them; added to
    `into` (a day's slots may come in several batches).

    Each key is kept as one string object for the whole count (`names`, shared by its calls), not as the copy its
    slot decoded: a slot's copies then die with the slot. Kept until the count ends, a copy per slot and key (about
    one per message) left the keys that outlive the count (the kept days') scattered a few to a page of the
    interpreter's small-object heap: a page is handed back only when all of it is free, so those few held most of
    the count's peak for as long as the days are kept."""
    out = {} if into is None else into
    names = {} if names is None else names
    for doc in docs:
        slot = int(doc["_id"])
        day = out.get(slot // SLOTS_PER_DAY)
        if day is None:
            day = out[slot // SLOTS_PER_DAY] = {"k": [], "s": [], "n": [], "raw": 0}
        counts = _key_counts(doc["k"])
        keys = counts.keys()
        day["k"] += map(names.setdefault, keys, keys)
        day["n"] += counts.values()
        day["s"] += [slot] * len(counts)
        day["raw"] += doc["all"]
    return out


def built_day(day: int, doc: Mapping[str, Any], flag: Callable[[str], str] | None = None) -> ClosedDay:
    """One day of the pipeline's output as a ClosedDay, straight from its arrays: their entries ordered by key
    (a sort of strings), then a few operations each: no (key, slot) tuple is made per cell, and no `$sort` is in
    the pipeline (MongoDB would sort every entry of the range at once; sorting here is per day). `flag`: what
    makes the kept key of a counted plain key (`Metric.key_flagger`)."""
    k = doc["k"]
    if flag is not None:
        k = [flag(key) if isinstance(key, str) else key for key in k]
    order = sorted((i for i, key in enumerate(k) if isinstance(key, str)), key=k.__getitem__)
    keys: list[str] = []
    starts, slots = array("I", [0]), bytearray()
    if "v" in doc:  # an interval metric: per key (once a day), its runs of slots (packed), kept as runs
        packed, runs = doc["v"], bytearray()
        for i in order:
            mine = packed[i]
            pairs = _PAIRS.get(mine[0], b"") if len(mine) == 1 else _merged_pairs(mine)
            if pairs:
                keys.append(k[i])
                runs += pairs
                starts.append(len(runs) // 2)
        if not keys:
            return ClosedDay(day, {}, doc["raw"])
        return PresenceDay.from_runs(day, keys, starts, bytes(runs), doc["raw"])
    base = day * SLOTS_PER_DAY
    s, n = doc["s"], doc["n"]
    counts = array("I")
    for i in order:  # one entry per (slot, key): a key's entries are together once ordered by key
        if n[i]:
            if not keys or keys[-1] != k[i]:
                if keys:
                    starts.append(len(counts))
                keys.append(k[i])
            slots.append(int(s[i]) - base)
            counts.append(n[i])
    if keys:
        starts.append(len(counts))
    return ClosedDay.from_arrays(day, keys, starts, bytes(slots), counts, doc["raw"])


def _merged_pairs(packed: list[int]) -> bytes:
    """Packed runs as sorted runs (first, end), one byte each, those that overlap or touch merged into one."""
    pieces = bytearray()
    ordered = sorted(v for v in packed if v in _PAIRS)
    if not ordered:
        return b""
    first, end = divmod(ordered[0], RUN_BASE)
    for v in ordered[1:]:
        a, b = divmod(v, RUN_BASE)
        if a <= end:
            end = max(end, b)
        else:
            pieces += bytes((first, end))
            first, end = a, b
    pieces += bytes((first, end))
    return bytes(pieces)


async def count_days(
    db: Database, metric: Metric, days: list[int], params: rules.Params = rules.NO_PARAMS, session: Session = None
) -> dict[int, ClosedDay]:
    """Every requested day (days without any document too), counted in one aggregation (in `session`, if given:
    see Engine.heavy_reads)."""
    if not days:
        return {}
    # Taken as raw BSON and decoded and built in a thread: decoding and building a big day is CPU work that, on the
    # event loop, a request arriving meanwhile would wait for. A thread gives the loop its turn after each batch.
    per_batch = len(days) * (1 if metric.is_interval else SLOTS_PER_DAY) + 1
    cursor = await db[metric.collection].aggregate_raw_batches(
        pipeline(metric, days, params), allowDiskUse=True, session=session, batchSize=per_batch
    )  # all documents in as few batches as fit (16 MB): the $group answers them at once, and a round trip per day
    # would add to the request's wait; one more than there can be, so the last batch also closes the cursor
    built: dict[int, ClosedDay] = {}
    flag = metric.key_flagger(params)
    slots: dict[int, dict[str, Any]] = {}
    names: dict[Any, Any] = {}
    async for batch in cursor:
        # A raw batch is BSON bytes; PyMongo types the cursor's items as the collection's documents.
        if metric.is_interval:
            built.update(await asyncio.to_thread(_built_batch, cast(bytes, batch), flag))
        else:
            await asyncio.to_thread(by_day, bson.decode_iter(cast(bytes, batch)), slots, names)
    if slots:
        built.update(await asyncio.to_thread(_built_days, slots, flag))
    return {d: built.get(d) or ClosedDay(d, {}, 0) for d in days}


def _built_batch(batch: bytes, flag: Callable[[str], str] | None) -> dict[int, ClosedDay]:
    """A batch of an interval metric's pipeline output (a document per day), decoded, as days (run in a worker
    thread: it reads only its input). One day at a time: only one day's decoded arrays are alive at once, and the
    event loop is offered its turn after each day."""
    out: dict[int, ClosedDay] = {}
    for doc in bson.decode_iter(batch):
        out[int(doc["_id"])] = built_day(int(doc["_id"]), doc, flag)
        time.sleep(0)  # lets go of the GIL: the event loop need not wait for a switch interval
    return out


def _built_days(days: dict[int, dict[str, Any]], flag: Callable[[str], str] | None) -> dict[int, ClosedDay]:
    """Per-day documents (`by_day`) as days, in a worker thread, each day's arrays let go once it is built."""
    out: dict[int, ClosedDay] = {}
    for day in sorted(days):
        out[day] = built_day(day, days.pop(day), flag)
        time.sleep(0)  # lets go of the GIL: the event loop need not wait for a switch interval
    return out


async def _aggregate_at(
    db: Database, collection: str, stages: Pipeline, cluster_time: Timestamp, batch: int = 1_000
) -> list[Document]:
    """An aggregation read at a cluster time, in one batch: the pipelines given here end in few documents (one
    per slot or day of the open days, or one in all), so no getMore is needed (inside the operation's timeout a
    getMore would carry a maxTimeMS, which MongoDB refuses on such a cursor)."""
    reply = await db.command(
        {
            "aggregate": collection,
            "pipeline": stages,
            "cursor": {"batchSize": batch},
            "allowDiskUse": True,
            "readConcern": {"level": "snapshot", "atClusterTime": cluster_time},
        }
    )
    if reply["cursor"]["id"]:
        raise ValueError("a snapshot aggregation answered more than one batch")  # a programming error
    return list(reply["cursor"]["firstBatch"])


async def count_at(
    db: Database, metric: Metric, days: list[int], cluster_time: Timestamp, params: rules.Params = rules.NO_PARAMS
) -> dict[int, tuple[Cells, int]]:
    """The same count as a snapshot read at a cluster time (what a change stream then continues from), as
    (key, slot within the day) -> count per day, with the day's raw count."""
    out: dict[int, tuple[Cells, int]] = {}
    flag = metric.key_flagger(params)
    docs = await _aggregate_at(
        db, metric.collection, pipeline(metric, days, params), cluster_time, 1 + SLOTS_PER_DAY * len(days)
    )
    per_day = {int(doc["_id"]): doc for doc in docs} if metric.is_interval else by_day(docs)
    for number, doc in per_day.items():
        day = built_day(number, doc, flag)
        out[day.day] = (day.cells(), day.raw)
    return out


Ongoing = list[tuple[str, int, int]]  # (key, first slot, bound slot): intervals still open, covering up to now


async def ongoing_at(
    db: Database, metric: Metric, days: list[int], cluster_time: Timestamp, params: rules.Params = rules.NO_PARAMS
) -> Ongoing:
    """An interval metric's documents that may cover these days and have no end yet, at the same snapshot."""
    stages = [
        {"$match": {**in_days(metric, days), **{f: {"$not": {"$type": "date"}} for f in metric.ends}}},
        _interval_stage(metric, params),
        {"$match": {"ok": True}},
        {"$group": {"_id": None, "k": {"$push": "$k"}, "t0": {"$push": "$t0"}, "bound": {"$push": "$bound"}}},
    ]  # one document in all (16 MB: some 200,000 open sessions)
    out: Ongoing = []
    for doc in await _aggregate_at(db, metric.collection, stages, cluster_time):
        for key, t0, bound in zip(doc["k"], doc["t0"], doc["bound"], strict=True):
            if isinstance(key, str):
                out.append((key, int(t0) // SLOT_MS, int(bound) // SLOT_MS))
    return out


def interval_of(metric: Metric, doc: Mapping[str, Any]) -> tuple[int, int | None, int] | None:
    """An interval metric's document (from a change stream) as slots: (first, end or None while open, bound),
    where the interval covers [first, min(end or now, bound)); None when its time is not a date."""
    t = rules.value(doc, metric.time_field)
    if not isinstance(t, datetime):
        return None
    also = rules.value(doc, metric.also_field) if metric.also_field else None
    later = also if isinstance(also, datetime) and also > t else t
    bound = (utc_day_of(later) + metric.lookback_days + 1) * SLOTS_PER_DAY
    first = slot_of(t)
    for f in metric.ends:
        end = rules.value(doc, f)
        if isinstance(end, datetime):
            return first, _end_slot(end), bound
    return first, None, bound


def _end_slot(end: datetime) -> int:
    """The first slot an interval ending at `end` (exclusive) does not touch."""
    start = slot_of(end)
    return start if slot_start(start) == end else start + 1


async def raw_counts(
    db: Database, metric: Metric, days: list[int], parallel: int, session: Session = None
) -> dict[int, int]:
    """Every document per UTC day, from the time field's index alone (no document is read); for a metric whose
    time field Rocket.Chat does not index (users' createdAt), one scan for all the days. An interval metric's
    kept days outlive their documents, so there is nothing to compare: 0 for every day."""
    if metric.keeps_history:
        return dict.fromkeys(days, 0)
    if not metric.time_indexed:
        return await _raw_counts_scanned(db, metric, days, session)

    async def one(day: int) -> tuple[int, int]:
        window = {"$gte": utc_day_start(day), "$lt": utc_day_start(day + 1)}
        return day, await db[metric.collection].count_documents({metric.time_field: window}, session=session)

    results: dict[int, int] = {}
    for i in range(0, len(days), parallel):
        results.update(await asyncio.gather(*(one(d) for d in days[i : i + parallel])))
    return results


async def _raw_counts_scanned(db: Database, metric: Metric, days: list[int], session: Session = None) -> dict[int, int]:
    if not days:
        return {}
    cursor = await db[metric.collection].aggregate(
        [{"$match": in_days(metric, days)}, {"$group": {"_id": number_of(metric, DAY_MS), "n": {"$sum": 1}}}],
        allowDiskUse=True,
        session=session,
    )
    found = {int(doc["_id"]): doc["n"] async for doc in cursor}
    return {d: found.get(d, 0) for d in days}


async def count_span(
    db: Database, metric: Metric, lo: datetime, hi: datetime, params: rules.Params = rules.NO_PARAMS
) -> dict[str, int]:
    """Counted documents per key in an exact span of time (for spans that are not runs of slots); for an
    interval metric, 1 for every key some interval of which covers an instant of it."""
    if metric.is_interval:
        first, last = utc_day_of(lo), utc_day_of(hi)
        lo_ms, hi_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
        cursor = await db[metric.collection].aggregate(
            [
                {"$match": in_days(metric, range(first, last + 1))},
                _interval_stage(metric, params),
                {"$match": {"ok": True, "t0": {"$lt": hi_ms}, "$expr": {"$gt": ["$t1", {"$max": ["$t0", lo_ms]}]}}},
                {"$group": {"_id": "$k"}},
            ]
        )
        return {doc["_id"]: 1 async for doc in cursor if isinstance(doc["_id"], str)}
    cursor = await db[metric.collection].aggregate(
        [
            {"$match": {metric.time_field: {"$gte": lo, "$lt": hi}, **rules.as_query(metric.rule, params)}},
            {"$group": {"_id": metric.key_expression(params), "n": {"$sum": 1}}},
        ]
    )
    return {doc["_id"]: doc["n"] async for doc in cursor if isinstance(doc["_id"], str)}


async def earliest(db: Database, metric: Metric) -> datetime | None:
    """The oldest time of any document (from the index): nothing before it needs counting or keeping."""
    doc = await db[metric.collection].find_one(
        {metric.time_field: {"$type": "date"}}, {metric.time_field: 1}, sort=[(metric.time_field, 1)]
    )
    return None if doc is None else cast(datetime, doc[metric.time_field])  # a date: the filter says so


async def days_of(db: Database, metric: Metric, field: str, values: list[str]) -> set[int]:
    """The UTC days holding a document whose `field` is one of `values` (the days a changed parameter touches;
    read from `field`'s index); for an interval metric, every day its intervals cover."""
    if metric.is_interval:
        day = {"$floor": {"$divide": ["$t0", DAY_MS]}}
        last = {"$floor": {"$divide": [{"$subtract": ["$t1", 1]}, DAY_MS]}}
        cursor = await db[metric.collection].aggregate(
            [
                {"$match": {field: {"$in": values}}},
                _interval_stage(metric, rules.NO_PARAMS),
                {"$match": {"$expr": {"$gt": ["$t1", "$t0"]}}},
                {"$project": {"d": {"$range": [{"$toInt": day}, {"$toInt": {"$add": [last, 1]}}]}}},
                {"$unwind": "$d"},
                {"$group": {"_id": "$d"}},
            ]
        )
        return {int(doc["_id"]) async for doc in cursor}
    cursor = await db[metric.collection].aggregate(
        [
            {"$match": {field: {"$in": values}, metric.time_field: {"$type": "date"}}},
            {"$group": {"_id": number_of(metric, DAY_MS)}},
        ]
    )
    return {int(doc["_id"]) async for doc in cursor}


async def param_values(db: Database, collection: str, rule: rules.Rule) -> frozenset[str]:
    """The ids of the documents of `collection` the rule matches (the bot users, say)."""
    return frozenset([doc["_id"] async for doc in db[collection].find(rule, {"_id": 1}) if isinstance(doc["_id"], str)])

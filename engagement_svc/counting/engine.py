"""The engine: kept counts of every metric, per key and UTC slot, and the one read function over them.

A UTC day is closed once its end plus a grace period has passed. A closed day is counted once (per key and
15-minute slot, in one scan that also yields its raw document count), kept in memory and in the state
database, and every later request in any zone reads it from there: a zone's local days and hours are runs of
slots. Days before the oldest document are empty without being counted or kept. Open days (today, and yesterday
during the grace) follow the collection's change stream from a snapshot; without the stream they are counted
directly and reused for at most `freshness_ms`.

Corrections: an insert, or a change of a field a rule reads, on a closed day (the change stream tells) drops the
day from the state database and recounts it within about a second. A deletion names no day: it makes the
sweeper compare each kept day's raw count with an index-only count, within a budget of counts per minute, and
recount the days that differ; days read back from the state database are compared the same way before use.

Memory and work do not grow with the number of zones asked: kept counts are per UTC day; per-zone work is the
arithmetic of a request (plus the bounded caches in `days`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from array import array
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
from bson import Timestamp
from pymongo.errors import PyMongoError

from engagement_svc import memory
from engagement_svc.counting import counter, rules
from engagement_svc.counting.catalog import CATALOG, FLAG, PARAM_SOURCES, Metric, unflagged
from engagement_svc.counting.kept import Classes, ClosedDay, EveryKey, OpenDay
from engagement_svc.counting.slots import (
    SLOT_SECONDS,
    SLOTS_PER_DAY,
    Span,
    Spans,
    slot_of,
    span_of_seconds,
    utc_day_of,
    utc_day_start,
)
from engagement_svc.counting.store import StateStore, source_id
from engagement_svc.counting.work import BACKGROUND, CALLER, DEADLINE, Job, Work
from engagement_svc.rocketchat.changes import ChangeStreams, Watcher, operation_time
from engagement_svc.rocketchat.rooms import RoomTypes
from engagement_svc.settings import Settings
from engagement_svc.tasks import background, cancelled

log = logging.getLogger("engagement_svc.engine")

CHUNK_DAYS = 8  # UTC days per counting job at most; a request's days are split evenly across the workers
# An interval metric's job also reads the lookback days before its first day (3 for sessions): in longer jobs
# that is less of the reading (6-day jobs read 9 days each). A request's jobs are longer than the backfill's: a
# cold 7-day active users (36 days with its 29 MAU days) is two jobs of 18 days, one per worker, which read 42
# days of sessions instead of 48 in four of 9 (2.4-2.6 s at 20M messages instead of 2.8-2.9; the raw 2.2 s).
INTERVAL_CHUNK_DAYS = 3 * CHUNK_DAYS
INTERVAL_BACKGROUND_CHUNK_DAYS = 2 * CHUNK_DAYS
# The backfill runs on every worker while no request waits, in jobs short enough that a request that comes
# waits for at most one of them (4 days of messages: about 2 s at 20M messages); sessions' days are cheaper.
BACKGROUND_CHUNK_DAYS = CHUNK_DAYS // 2
YIELD_SPANS = 8  # distinct users of this many spans computed between two turns of the event loop
PARALLEL_COUNTS = 2  # counting jobs at once (MongoDB runs each aggregation on one core)
BACKGROUND_TIMEOUT_S = 600  # a counting job that takes longer is abandoned and retried later
MIN_SWEEP_GAP_S = 60  # deletions trigger a sweep at most this often (or every sweep_seconds, if shorter)
REFRESH_S = 600  # room types and the oldest document are re-read this often
TRACK_TIMEOUT_S = 120  # a snapshot read must finish well inside MongoDB's snapshot history (300 s by default)
RESNAPSHOT_S = 1.0  # open days are counted again after deletions at most this often
SPAN_CACHE_SIZE = 100_000  # remembered sums of closed spans (about 150 bytes each)
SERIES_CACHE_SIZE = 1024  # remembered answers for whole series of spans (a zone's days from one date to another)
DERIVED_CACHE_SIZE = 64  # remembered derived answers (each at most one row per room)
DERIVED_CACHE_BYTES = 64 * 2**20  # and about this much memory for them in all
KEY_CACHE_ENTRIES = 500_000  # remembered per-key sums of closed spans, in keys over all spans (about 40 MB)
SET_CACHE_KEYS = 500_000  # remembered key sets of closed runs (a window's users before today), in keys (~35 MB)
PRIOR_SECONDS_PER_DOCUMENT = 2e-5  # counting one document, on one worker (measured: 12-30 us on 2 cores)
CLAIM_S = 60.0  # a replica's claim on the days it counts lasts this long (longer jobs may be counted twice)
CLAIM_POLL_S = 0.25  # how often a replica looks for days another one is counting
CATCH_UP_S = 30.0  # at most this long, kept counts wait for a resumed stream to replay what it missed
CORRECTIONS = "~corrections"  # the owner of recounts: a caller of its own, ahead of background work

View = ClosedDay | OpenDay


def _parts(views: dict[int, View], first: int, end: int) -> Iterator[tuple[View, int, int]]:
    """The UTC days a run of slots [first, end) touches, each with the run's slots within that day."""
    for day in range(first // SLOTS_PER_DAY, (end - 1) // SLOTS_PER_DAY + 1):
        view = views.get(day)
        if view is not None:
            base = day * SLOTS_PER_DAY
            yield view, max(first - base, 0), min(end - base, SLOTS_PER_DAY)


def _merged(parts: list[dict[str, int]]) -> dict[str, int]:
    """Per-key sums added together, flagged keys under their plain key."""
    if len(parts) == 1 and not any(FLAG in k for k in parts[0]):
        return parts[0]
    out: dict[str, int] = {}
    for part in parts:
        for key, n in part.items():
            plain = unflagged(key) if FLAG in key else key
            out[plain] = out.get(plain, 0) + n
    return out


class RunningSums:
    """Counted sums over every kept closed day: a running sum of whole days, and each day's own running sum over
    its slots, so that any run of closed slots costs a few lookups, whatever the zone. Built in one pass over the
    days (no copy of their slots); rebuilt when a kept day or a key's class changes."""

    def __init__(
        self, version: tuple[int, int], closed: Mapping[int, ClosedDay], classes: Classes, counted: tuple[str, ...]
    ):
        self.version = version
        self.first_day = min(closed)
        self._days: list[array | None] = []
        totals, kept = array("q", [0]), array("l", [0])
        for day in range(self.first_day, max(closed) + 1):
            view = closed.get(day)
            prefix = view.counted_prefix(classes, counted) if view is not None else None
            self._days.append(prefix)
            totals.append(totals[-1] + (prefix[-1] if prefix is not None else 0))
            kept.append(kept[-1] + (prefix is not None))
        self._totals, self._kept = totals, kept

    def answer(self, spans: Sequence[Span], results: list[Any], open_slot: int) -> None:
        """Fill in the sum of every span that lies in kept closed days (before `open_slot`); leave the others."""
        first_day, days, totals, kept, count = self.first_day, self._days, self._totals, self._kept, len(self._days)
        for i, (_, _, first, end) in enumerate(spans):
            if first is None or end is None or end > open_slot or end <= first:
                continue
            d0, a = divmod(first, SLOTS_PER_DAY)
            d1, b = divmod(end - 1, SLOTS_PER_DAY)
            d0, d1, b = d0 - first_day, d1 - first_day, b + 1
            if d0 < 0 or d1 >= count or kept[d1 + 1] - kept[d0] != d1 - d0 + 1:
                continue
            p0, p1 = days[d0], days[d1]
            assert p0 is not None and p1 is not None
            if d0 == d1:
                results[i] = p0[b] - p0[a]
            else:
                results[i] = (p0[SLOTS_PER_DAY] - p0[a]) + (totals[d1] - totals[d0 + 1]) + p1[b]


class Tracker:
    """A metric's open days as of cluster time `since`, plus every insert the stream delivered after it."""

    def __init__(self, since: Timestamp, days: dict[int, OpenDay]):
        self.since = since
        self.days = days


def _prepared(days: list[ClosedDay], classes: Classes, metric: Metric) -> None:
    """The running sums of these days' counted classes, made ahead (see _fill_days)."""
    everything = metric.counted_for("include")
    for day in days:
        day.counted_prefix(classes, everything)


class Engine:
    def __init__(
        self,
        db,
        state_db,
        settings: Settings,
        streams: ChangeStreams,
        metrics: Mapping[str, Metric] = CATALOG,
        heavy_db=None,
    ):
        """`db`: where reads that need the newest data go (the primary); `heavy_db`: the same database with the
        read preference of MONGO_URL, for counting closed days (default: `db`)."""
        self.db = db
        self.heavy_db = db if heavy_db is None else heavy_db
        self.settings = settings
        self.store = StateStore(state_db)
        self.rooms = RoomTypes(db)
        self._users = EveryKey("user")
        self.work = Work(PARALLEL_COUNTS, BACKGROUND_TIMEOUT_S)
        self.metrics = metrics
        self._source: str | None = None
        self.params: dict[str, frozenset[str]] = {}  # the sets rules name (bot users), as last read
        self._params_due = False
        self._closed: dict[str, dict[int, ClosedDay]] = {m: {} for m in metrics}
        self._trackers: dict[str, Tracker] = {}
        self._versions: dict[str, int] = {}  # metric -> changes of its kept days (remembered sums check it)
        self._span_cache: dict[tuple, tuple[tuple[int, int], int]] = {}
        self._running: dict[tuple[str, tuple[str, ...]], RunningSums] = {}
        self._series_cache: dict[tuple, tuple[tuple, list]] = {}
        self._key_cache: dict[tuple, tuple[tuple[int, int], dict[str, int]]] = {}
        self._key_cache_entries = 0
        self._set_cache: dict[tuple, tuple[tuple, frozenset[str]]] = {}
        self._set_cache_keys = 0
        self._derived: dict[tuple, tuple[tuple, Any, int]] = {}  # (stamp, answer, size): see `remember`
        self._derived_bytes = 0
        self._earliest: dict[str, tuple[float, datetime | None]] = {}  # metric -> (read at, oldest time)
        self._oldest: dict[str, datetime | None] = {}  # metric -> the oldest time last read (never dropped)
        self._changes: dict[tuple[str, int], int] = {}  # (metric, closed day) -> changes seen
        self._dirty: dict[str, set[int]] = {m: set() for m in metrics}  # closed days in memory, to recount
        self._stale: dict[str, set[int]] = {m: set() for m in metrics}  # days the state database must drop
        self._recounting: dict[str, set[int]] = {m: set() for m in metrics}  # dirty days being recounted
        self._history_lost: set[str] = set()  # collections whose stream lost its history: all to recount
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"  # this process, for claims
        self._resnapshot: set[str] = set()  # collections whose open days are counted again at the next flush
        self._last_resnapshot: dict[str, float] = {}
        self._sweep_due = 0.0
        self._last_sweep = 0.0
        self._tasks: list[asyncio.Task] = []
        self.stopping = False
        self.watchers: dict[str, Watcher] = {}
        for collection in {m.collection for m in metrics.values()}:
            fields = set().union(*(m.watched_fields for m in self._of(collection)))
            self.watchers[collection] = watcher = streams.on(collection)
            watcher.listen(_Listener(self, collection), fields, fields)
            watcher.checkpoint = _Checkpoint(self, collection)
        if any(m.uses_params for m in metrics.values()):
            for name, param in PARAM_SOURCES.items():
                param_fields = rules.fields(param.rule)
                streams.on(param.collection).listen(_ParamListener(self, name), param_fields, param_fields)
        self.stats = {
            "closed_hits": 0,
            "closed_misses": 0,
            "state_hits": 0,
            "recounts": 0,
            "open_live": 0,
            "open_tracked": 0,
            "sweep_counts": 0,
            "exact_spans": 0,
            "spans_remembered": 0,
            "shared_days": 0,
            "history_lost": 0,
            "history_recounts": 0,
        }

    def _of(self, collection: str) -> list[Metric]:
        return [m for m in self.metrics.values() if m.collection == collection]

    @property
    def watcher(self) -> Watcher:
        """The messages' change stream (the one every endpoint so far depends on)."""
        return self.watchers["rocketchat_message"]

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.work.start()
        self._tasks = [
            background(self._maintain(), "maintain"),
            background(self._sweeper(), "sweeper"),
            background(self._warm(), "warm"),
        ]

    def stop(self) -> list[asyncio.Future]:
        """Background loops end at their next turn; the tasks are returned, to be cancelled once the clients are
        closed."""
        self.stopping = True
        return [*self._tasks, *self.work.stop()]

    def kept(self) -> tuple[int, int]:
        """UTC days of kept counts in memory (every metric), and about how many bytes they hold."""
        days = [d for closed in self._closed.values() for d in closed.values()]
        return len(days), sum(d.nbytes() for d in days)

    async def source(self) -> str:
        """The source's identity, once the state database is tidied and the rules' sets are read (the first
        thing every count needs)."""
        if self._source is None:
            await self.work.shared(("source",), self._first_source)
        assert self._source is not None
        return self._source

    async def _first_source(self) -> None:
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            source = await source_id(self.db)
            await self.store.retire_old_collections()
            await self.store.prepare()
            if any(m.uses_params for m in self.metrics.values()):
                for name in PARAM_SOURCES:
                    await self._read_param(source, name, await self.store.load_param(source, name))
            self._source = source

    async def _read_param(self, source: str, name: str, before: frozenset[str] | None) -> None:
        """Read a rule's set afresh. Where it differs from `before` (what the kept counts were made with), the days
        holding documents of the ids that changed are forgotten by the state database and recounted."""
        param = PARAM_SOURCES[name]
        current = await counter.param_values(self.db, param.collection, param.rule)
        self.params[name] = current
        if before is not None and before != current:
            changed = sorted(before ^ current)
            now = datetime.now(UTC)
            for metric in self.metrics.values():
                if metric.uses_params:
                    days = await counter.days_of(self.db, metric, metric.user_field, changed)
                    closed = {d for d in days if self.is_closed(d, now)}
                    if metric.keeps_history:  # recounted with what was kept, before the new set is saved
                        await self.work.wait(self._submit_fill(metric, closed, recount=True), None)
                    else:
                        for day in days:
                            self._changed_day(metric, day, now)
                        await self.store.forget(source, metric, closed)
                    self._resnapshot.add(metric.collection)
            log.info("%s changed (%d ids); the days they touch are counted again", name, len(changed))
        if before != current:
            await self.store.save_param(source, name, current)

    async def _refresh_params(self) -> None:
        self._params_due = False
        if self._source is None:
            return  # nothing counted yet: the first count reads them
        for name in PARAM_SOURCES:
            await self._read_param(self._source, name, self.params.get(name))

    def is_closed(self, day: int, now: datetime) -> bool:
        return day < self.first_open_day(now)

    def first_open_day(self, now: datetime) -> int:
        """The first UTC day whose end plus the grace has not passed: every day before it is closed."""
        return utc_day_of(now - timedelta(seconds=self.settings.close_grace_seconds))

    async def earliest(self, metric: Metric) -> datetime | None:
        """The oldest document's time: read at most every REFRESH_S while the change stream shows older inserts,
        else reused for at most freshness_ms."""
        known = self._earliest.get(metric.name)
        fresh_for = REFRESH_S if self.watchers[metric.collection].healthy else self.settings.freshness_ms / 1000
        if known is None or time.monotonic() - known[0] > fresh_for:
            oldest = await self.work.shared(("earliest", metric.name), lambda: self._read_earliest(metric))
            self._earliest[metric.name] = known = (time.monotonic(), oldest)
            self._oldest[metric.name] = oldest  # kept when the reading above is dropped, for the progress
        return known[1]

    async def _read_earliest(self, metric: Metric) -> datetime | None:
        """The oldest document's time; for a metric that keeps history, or the oldest kept day's start."""
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            oldest = await counter.earliest(self.db, metric)
            if metric.keeps_history:
                stored = await self.store.oldest_day(await self.source(), metric)
                kept = [*self._closed[metric.name], *([] if stored is None else [stored])]
                if kept:
                    first = utc_day_start(min(kept))
                    oldest = first if oldest is None else min(oldest, first)
            return oldest

    # -- the read function --------------------------------------------------------------------------------------
    def classes(self, metric: Metric) -> Classes:
        """What the metric's keys stand for: the room-type map for room keys; one class for user keys."""
        return self.rooms if metric.keys == "rooms" else self._users

    async def counts(
        self, metric: Metric, spans: Sequence[Span], by: str | None = None, counted: tuple[str, ...] | None = None
    ) -> list[Any]:
        """Counts of `metric` in each span (a zone's local days or hours, see `slots.day_spans`), in order.

        by=None: one int per span, the sum over the keys that count (for messages: rooms of type c, p or d);
        by="class": per span, {class: sum} over every class (room types c, p, d, l, v...);
        by="key": per span, {key: sum} over the keys that count;
        by="distinct": per span, how many different keys that count have anything in it (users, say);
        by="keys": per span, the sorted list of those keys, flagged ones under their plain key (never remembered;
        made one span at a time: a year of active users is 365 lists of ids, not 365 sets alive at once).
        `counted`: the classes that count (default: the metric's; see `Metric.counted_for` for flagged keys).

        A sum or distinct count of a span in closed days is remembered (by its slots, so every zone whose day
        has the same edges shares it) until the metric's kept days or the key classes change.
        """
        now = datetime.now(UTC)
        classes, counted = self.classes(metric), counted or metric.counted_for("include")
        version = self._version(metric)
        open_slot = self.first_open_day(now) * SLOTS_PER_DAY
        cache = self._span_cache if by in (None, "distinct") else None
        # The whole series asked again (the same zone's same days): what was closed is reused as it is.
        series_key = (metric.name, by, counted, spans.key) if cache is not None and isinstance(spans, Spans) else None
        series = self._series_cache.get(series_key) if series_key is not None else None
        if series is not None and series[0] == (version, open_slot):
            results = list(series[1])
        else:
            results = [None] * len(spans)
            running = self._running_sums(metric, counted) if by is None else None
            if running is not None:
                running.answer(spans, results, open_slot)
        todo: list[int] = []
        days: set[int] = set()
        remembered = 0
        for i, s in enumerate(spans):
            if results[i] is not None:
                remembered += 1
                continue
            if s.first is None or s.end is None:
                todo.append(i)
                continue
            if cache is not None:
                hit = cache.get((metric.name, by, counted, s.first, s.end))
                if hit is not None and hit[0] == version:
                    results[i] = hit[1]
                    continue
            todo.append(i)
            if s.end > s.first:
                days.update(range(s.first // SLOTS_PER_DAY, (s.end - 1) // SLOTS_PER_DAY + 1))
        self.stats["spans_remembered"] += remembered
        if not todo:
            return results
        views = await self._views(metric, days, now)
        version = self._version(metric)  # as of the views
        for done, i in enumerate(todo):
            if by in ("distinct", "keys") and done % YIELD_SPANS == YIELD_SPANS - 1:
                await asyncio.sleep(0)  # a long answer (a year by hour: 8,760 spans) lets other requests in
            s = spans[i]
            if s.first is None or s.end is None:
                results[i] = await self._exact(metric, s, by, counted)
                continue
            if by is None:
                total = 0
                for view, a, b in _parts(views, s.first, s.end):
                    prefix = view.class_prefix(classes)
                    total += sum(p[b] - p[a] for kind in counted if (p := prefix.get(kind)) is not None)
                results[i] = total
            elif by == "class":
                sums: dict[str, int] = {}
                for view, a, b in _parts(views, s.first, s.end):
                    for kind, p in view.class_prefix(classes).items():
                        if p[b] - p[a]:
                            sums[kind] = sums.get(kind, 0) + p[b] - p[a]
                results[i] = sums
            elif by == "key":
                sums = {}
                for view, a, b in _parts(views, s.first, s.end):
                    part = view.key_totals() if (a, b) == (0, SLOTS_PER_DAY) else view.key_sums(a, b)
                    for key, n in part.items():
                        if classes.kind(key) in counted:
                            sums[key] = sums.get(key, 0) + n
                results[i] = sums
            else:
                closed: frozenset[str] = frozenset()
                lo = s.first
                if s.first < open_slot < s.end:  # the closed part's keys are remembered; the open part read fresh
                    closed = self._closed_keys(metric, views, s.first, open_slot, counted, version)
                    lo = open_slot
                seen: set[str] = set()
                for view, a, b in _parts(views, lo, s.end):
                    seen |= view.key_set(a, b)
                fresh = {key for key in seen if key not in closed and classes.kind(key) in counted}
                if by == "keys":
                    results[i] = sorted({unflagged(key) for key in (*closed, *fresh)})
                else:
                    results[i] = len(closed) + len(fresh)
            if cache is not None and s.end <= open_slot:
                if len(cache) >= SPAN_CACHE_SIZE:
                    cache.clear()  # a bound, not an order: what is asked again is remembered again
                cache[(metric.name, by, counted, s.first, s.end)] = (version, results[i])
        if series_key is not None:
            if len(self._series_cache) >= SERIES_CACHE_SIZE:
                self._series_cache.clear()
            closed_only = [
                r if s.end is not None and s.end <= open_slot else None for r, s in zip(results, spans, strict=True)
            ]
            self._series_cache[series_key] = ((version, open_slot), closed_only)
        return results

    # -- the typed read API (what reports call) ---------------------------------------------------------------
    async def sums(self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None) -> list[int]:
        """Per span, the sum over the keys that count (for messages: rooms of type c, p or d)."""
        return await self.counts(metric, spans, counted=counted)

    async def sums_by_class(self, metric: Metric, spans: Sequence[Span]) -> list[dict[str, int]]:
        """Per span, {class: sum} over every class (room types c, p, d, l, v..., flagged ones apart)."""
        return await self.counts(metric, spans, by="class")

    async def sums_by_key(self, metric: Metric, span: Span, counted: tuple[str, ...] | None = None) -> dict[str, int]:
        """Per key that counts, its sum over one span, flagged and plain counts of a key added together."""
        return await self.key_sums(metric, span, counted)

    async def distinct(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None
    ) -> list[int]:
        """Per span, how many different keys that count have anything in it (users, say)."""
        return await self.counts(metric, spans, by="distinct", counted=counted)

    async def key_lists(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None
    ) -> list[list[str]]:
        """Per span, the sorted keys that count with anything in it, flagged ones under their plain key."""
        return await self.counts(metric, spans, by="keys", counted=counted)

    def _closed_keys(
        self, metric: Metric, views: dict[int, View], first: int, end: int, counted: tuple[str, ...], version: tuple
    ) -> frozenset[str]:
        """The keys that count with anything in the closed slots [first, end) (a month of active users before
        today), remembered (up to SET_CACHE_KEYS keys in all) while the kept days stay the same."""
        cache_key = (metric.name, counted, first, end)
        hit = self._set_cache.get(cache_key)
        if hit is not None and hit[0] == version:
            return hit[1]
        seen: set[str] = set()
        for view, a, b in _parts(views, first, end):
            seen |= view.key_set(a, b)
        classes = self.classes(metric)
        found = frozenset(key for key in seen if classes.kind(key) in counted)
        if hit is not None:  # made with other kept days
            self._set_cache_keys -= len(self._set_cache.pop(cache_key)[1])
        while self._set_cache and self._set_cache_keys + len(found) > SET_CACHE_KEYS:
            self._set_cache_keys -= len(self._set_cache.pop(next(iter(self._set_cache)))[1])  # oldest first
        self._set_cache[cache_key] = (version, found)
        self._set_cache_keys += len(found)
        return found

    async def key_sums(self, metric: Metric, s: Span, counted: tuple[str, ...] | None = None) -> dict[str, int]:
        """Per key, the counted sum over one span (a whole range, say), flagged and plain counts of a key added
        together (a room's messages, whoever wrote them). The part of the span in closed days is remembered
        until the metric's kept days or the key classes change; the open part is read fresh."""
        counted = counted or metric.counted_for("include")
        if s.first is None or s.end is None:
            return _merged([(await self.counts(metric, [s], by="key", counted=counted))[0]])
        open_slot = self.first_open_day(datetime.now(UTC)) * SLOTS_PER_DAY
        closed_end = min(s.end, max(s.first, open_slot))
        parts: list[dict[str, int]] = []
        if closed_end > s.first:
            cache_key = (metric.name, counted, s.first, closed_end)
            hit = self._key_cache.get(cache_key)
            if hit is not None and hit[0] == self._version(metric):
                self.stats["spans_remembered"] += 1
                parts.append(hit[1])
            else:
                sums = await self._per_key(metric, s.first, closed_end, counted)
                version = self._version(metric)  # as of the counts
                if self._key_cache_entries + len(sums) > KEY_CACHE_ENTRIES:
                    self._key_cache.clear()  # a bound, not an order: what is asked again is remembered again
                    self._key_cache_entries = 0
                self._key_cache[cache_key] = (version, sums)
                self._key_cache_entries += len(sums)
                parts.append(sums)
        if s.end > closed_end:
            parts.append(await self._per_key(metric, closed_end, s.end, counted))
        return parts[0] if len(parts) == 1 else _merged(parts)

    async def _per_key(self, metric: Metric, first: int, end: int, counted: tuple[str, ...]) -> dict[str, int]:
        """Per key, the counted sum over the slots [first, end), flagged and plain counts of a key together."""
        span = span_of_seconds(first * SLOT_SECONDS, end * SLOT_SECONDS)
        return _merged([(await self.counts(metric, [span], by="key", counted=counted))[0]])

    def _version(self, metric: Metric) -> tuple[int, int]:
        """Changes of the metric's kept days and of its keys' classes: what remembered sums are checked against."""
        return self._versions.get(metric.name, 0), self.classes(metric).generation

    def stamp(self, metric: Metric) -> tuple | None:
        """What every answer about this metric depends on, while the change stream is followed: equal stamps,
        equal counts (an answer derived from them may be remembered under it). None when it cannot be told."""
        tracker = self._trackers.get(metric.name)
        if tracker is None or not self.watchers[metric.collection].healthy:
            return None
        now = datetime.now(UTC)
        opened: tuple = tuple((d, v.version) for d, v in sorted(tracker.days.items()))
        if any(v.ongoing for v in tracker.days.values()):
            opened += (slot_of(now),)  # open intervals grow with every slot
        return (
            *self._version(metric),
            self.first_open_day(now),
            utc_day_of(now),
            tracker.since,  # a new snapshot starts its days' versions again
            opened,
        )

    def remembered(self, key: tuple, stamp: tuple | None) -> Any:
        """What `remember` kept under this key, if it was kept at this stamp (see `stamp`); else None."""
        found = self._derived.get(key)
        return found[1] if stamp is not None and found is not None and found[0] == stamp else None

    def remember(self, key: tuple, stamp: tuple | None, value: Any) -> None:
        """Keep an answer derived from counts (a sorted channel list, say) while the stamp holds; at most
        DERIVED_CACHE_SIZE of them and about DERIVED_CACHE_BYTES in all, oldest out first; one answer of more than
        a quarter of that (a year of active users' lists: 39 MB of JSON) is not kept, nor one without a length
        (pieces written as they are made: they can be read once)."""
        if stamp is None or not hasattr(value, "__len__"):
            return
        size = _size(value)
        if size > DERIVED_CACHE_BYTES // 4:
            return
        old = self._derived.pop(key, None)
        if old is not None:
            self._derived_bytes -= old[2]
        while self._derived and (
            len(self._derived) >= DERIVED_CACHE_SIZE or self._derived_bytes + size > DERIVED_CACHE_BYTES
        ):
            self._derived_bytes -= self._derived.pop(next(iter(self._derived)))[2]
        self._derived[key] = (stamp, value, size)  # its size as counted in, not measured again on the way out
        self._derived_bytes += size

    def _running_sums(self, metric: Metric, counted: tuple[str, ...]) -> RunningSums | None:
        """The metric's counted sums over every kept closed day as one running sum, rebuilt when a kept day or
        a key's class changes: any run of closed slots is then two lookups, whatever the zone."""
        version = self._version(metric)
        built = self._running.get((metric.name, counted))
        if built is None or built.version != version:
            closed = self._closed[metric.name]
            if not closed:
                return None
            built = self._running[(metric.name, counted)] = RunningSums(version, closed, self.classes(metric), counted)
        return built

    async def _exact(self, metric: Metric, s: Span, by: str | None, counted: tuple[str, ...]) -> Any:
        """A span that is not a run of slots (offsets before 1980): counted directly, if anything can be in it."""
        self.stats["exact_spans"] += 1
        oldest = await self.earliest(metric)
        per_key = (
            {}
            if oldest is None or s.hi <= oldest
            else await counter.count_span(self.db, metric, s.lo, s.hi, self.params)
        )
        classes = self.classes(metric)
        await classes.ensure(per_key)
        if by == "class":
            out: dict[str, int] = {}
            for key, n in per_key.items():
                kind = classes.kind(key)
                if kind is not None:
                    out[kind] = out.get(kind, 0) + n
            return out
        kept = {k: n for k, n in per_key.items() if classes.kind(k) in counted}
        if by == "key":
            return kept
        if by == "keys":  # a sorted list, as every other span's keys (a set cannot be written as JSON)
            return sorted({unflagged(k) for k in kept})
        return len(kept) if by == "distinct" else sum(kept.values())

    async def _views(self, metric: Metric, days: Iterable[int], now: datetime) -> dict[int, View]:
        """What each day's counts are read from; a day without any document has none."""
        await self.source()
        oldest = await self.earliest(metric)
        if oldest is None:
            return {}
        first = utc_day_of(oldest)
        wanted = sorted(d for d in days if d >= first)
        closed = self._closed[metric.name]
        shut = [d for d in wanted if self.is_closed(d, now)]
        missing = [d for d in shut if d not in closed]
        self.stats["closed_hits"] += len(shut) - len(missing)
        open_days = [d for d in wanted if not self.is_closed(d, now)]
        opening = None
        if missing:
            self.stats["closed_misses"] += len(missing)
            if open_days:  # the open days' snapshot is read while the closed days are counted, not after
                opening = asyncio.ensure_future(self._open_views(metric, open_days, now))
            try:
                await self._fill(metric, missing)
            except BaseException:
                if opening is not None:  # it goes on (what it tracks is kept for the next ask)
                    opening.add_done_callback(lambda f: f.cancelled() or f.exception())
                raise
        views: dict[int, View] = {d: closed[d] for d in shut}
        if opening is not None:
            views.update(await opening)
        elif open_days:
            views.update(await self._open_views(metric, open_days, now))
        return views

    async def _fill(self, metric: Metric, days: list[int]) -> None:
        """Closed days from the state database or counted, newest first, through the fair queue; raises Busy
        at once when they cannot be ready before the request's deadline."""
        await self.work.wait(self._submit_fill(metric, days), DEADLINE.get())

    def _submit_fill(self, metric: Metric, days: Iterable[int], recount: bool = False) -> list[Job]:
        """Jobs (queued for the current caller, or joined) that fill these days, newest first."""
        kind = "recount" if recount else "fill"
        background = CALLER.get() == BACKGROUND
        if metric.is_interval:
            chunk = INTERVAL_BACKGROUND_CHUNK_DAYS if background else INTERVAL_CHUNK_DAYS
        else:
            chunk = BACKGROUND_CHUNK_DAYS if background else CHUNK_DAYS
        return self.work.submit([(kind, metric.name, d) for d in sorted(days, reverse=True)], self._fill_keys, chunk)

    async def _fill_keys(self, keys: list[tuple[str, str, int]]) -> None:
        kind, name = keys[0][0], keys[0][1]
        await self._fill_days(self.metrics[name], sorted(k[2] for k in keys), recount=kind == "recount")

    async def _fill_days(self, metric: Metric, days: list[int], recount: bool = False) -> None:
        """Closed days from the state database (checked against a fresh raw count) or counted afresh; with
        `recount`, counted afresh whatever is kept."""
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            seen = {d: self._changes.get((metric.name, d), 0) for d in days}
            source = await self.source()
            if not recount:  # what the stream replays from its saved position is marked before anything is read
                await self.watchers[metric.collection].settled(CATCH_UP_S)
            kept = {} if recount else await self.store.load(source, metric, days)
            if metric.collection in self._history_lost:
                kept = {}  # every kept day is to be counted again
            owed = self.pending(metric.collection)[metric.name]
            kept = {d: c for d, c in kept.items() if d not in owed}
            async with self.heavy_reads() as session:
                if kept and not metric.keeps_history:
                    raw = await counter.raw_counts(self.heavy_db, metric, list(kept), 16, session)
                    kept = {d: c for d, c in kept.items() if c.raw == raw[d]}
                fresh = [d for d in days if d not in kept]
                if recount:
                    counted = await self._count_and_save(source, metric, fresh, session)
                else:  # a day another replica is counting now is taken from it, not counted twice at once
                    mine = await self.store.claim(source, metric, fresh, self.replica, CLAIM_S)
                    try:
                        counted = await self._count_and_save(source, metric, sorted(mine), session)
                    finally:
                        await self.store.release(source, metric, mine, self.replica)
                    others = [d for d in fresh if d not in mine]
                    if others:
                        kept.update(await self._counted_elsewhere(source, metric, others, session))
            self.stats["state_hits"] += len(kept)
            classes = self.classes(metric)
            await classes.ensure(k for c in kept.values() for k in c.keys)
            # The sums requests read, made here rather than by the next request for all of the job's days at once
            # (a warm request after each backfill job took 60 ms more), and in a thread: on the event loop each day
            # held it for 23 ms (up to 30) at 20M messages. The days are not yet seen by anything else. Counted days
            # were given theirs as they were saved (_count_and_save).
            await asyncio.to_thread(_prepared, list(kept.values()), classes, metric)
            self._closed[metric.name].update(kept)
            self._closed[metric.name].update(counted)
            self._versions[metric.name] = self._versions.get(metric.name, 0) + 1  # remembered sums are stale
            # a change seen while counting: the count may predate it
            self._owe(metric, {d for d in days if self._changes.get((metric.name, d), 0) != seen[d]})

    async def _count_and_save(self, source: str, metric: Metric, days: list[int], session) -> dict[int, ClosedDay]:
        """These closed days counted (with what was kept of them, for a metric that keeps history) and saved."""
        if not days:
            return {}
        counted = await counter.count_days(self.heavy_db, metric, days, self.params, session)
        if metric.keeps_history:  # what was kept of a day counted again still counts
            counted = await self._with_history(source, metric, counted)
        self.stats["recounts"] += len(counted)
        # Saved while their running sums are made (see _fill_days), not one after the other: both are on the path
        # of a request that waits for these days (about 80 ms each for 18 days of sessions at 20M messages).
        classes = self.classes(metric)
        await classes.ensure(k for c in counted.values() for k in c.keys)
        days_counted = list(counted.values())
        await asyncio.gather(
            self.store.save(source, metric, days_counted), asyncio.to_thread(_prepared, days_counted, classes, metric)
        )
        return counted

    async def _counted_elsewhere(self, source: str, metric: Metric, days: list[int], session) -> dict[int, ClosedDay]:
        """Days another replica claimed: read from the state database once it has saved them; a day whose claim
        ends without its count (that replica stopped) is counted here."""
        found: dict[int, ClosedDay] = {}
        left = set(days)
        while left:
            await asyncio.sleep(CLAIM_POLL_S)
            found.update(await self.store.load(source, metric, sorted(left)))
            left -= found.keys()
            if left:
                free = left - await self.store.claimed(source, metric, left)
                if free:
                    found.update(await self._count_and_save(source, metric, sorted(free), session))
                    left -= free
        self.stats["shared_days"] += len(days)
        return found

    @contextlib.asynccontextmanager
    async def heavy_reads(self) -> AsyncIterator[Any]:
        """The session for counting closed days. When MONGO_URL's read preference sends reads elsewhere than the
        primary (secondaryPreferred, say), a causally consistent session that has seen the primary's current
        operation time: a member behind it waits until it has caught up, so a lagging secondary never counts
        less than the change stream has told. With the primary, no session (None)."""
        if self.heavy_db.read_preference.mode == 0:
            yield None
            return
        now = await operation_time(self.db)
        async with self.heavy_db.client.start_session(causal_consistency=True) as session:
            session.advance_operation_time(now)
            yield session

    async def _with_history(self, source: str, metric: Metric, counted: dict[int, ClosedDay]) -> dict[int, ClosedDay]:
        """Recounted days of a metric that keeps history, together with what was kept of them: documents the
        source has forgotten since (sessions past Rocket.Chat's TTL) still count. Kept keys are flagged again by
        the current parameters (a user who became a bot moves, rather than counting twice)."""
        closed = self._closed[metric.name]
        unknown = [d for d in counted if d not in closed]
        before = {**(await self.store.load(source, metric, unknown) if unknown else {}), **closed}
        out: dict[int, ClosedDay] = {}
        for day, fresh in counted.items():
            old = before.get(day)
            if old is None:
                out[day] = fresh
                continue
            cells = fresh.cells()
            for (key, slot), n in old.cells().items():
                again = metric.key_of({metric.key_field: unflagged(key)}, self.params) or key
                cells[(again, slot)] = max(cells.get((again, slot), 0), n)
            out[day] = ClosedDay.of_cells(day, cells, fresh.raw)
        return out

    # -- open days ----------------------------------------------------------------------------------------------
    async def _open_views(self, metric: Metric, days: list[int], now: datetime) -> dict[int, View]:
        watcher = self.watchers[metric.collection]
        today = utc_day_of(now)
        tracked = [d for d in days if d <= today]  # days after today (future timestamps) are counted directly
        tracker = self._trackers.get(metric.name)
        if tracked and watcher.healthy and (tracker is None or any(d not in tracker.days for d in tracked)):
            grace_days = self.settings.close_grace_seconds // 86_400 + 1
            open_now = [d for d in range(today - grace_days, today + 1) if not self.is_closed(d, now)]
            await self.work.shared(("track", metric.name, tuple(open_now)), lambda: self._track(metric, open_now))
            tracker = self._trackers.get(metric.name)
        views: dict[int, View] = {}
        if watcher.healthy and tracker is not None and all(d in tracker.days for d in tracked):
            self.stats["open_tracked"] += 1
            views.update({d: tracker.days[d] for d in tracked})
            classes = self.classes(metric)
            unknown = {k for d in tracked for k in tracker.days[d].pending_keys() if not classes.knows(k)}
            if unknown:
                await classes.ensure(unknown)
        live = [d for d in days if d not in views]
        if live:
            # Without the change stream (or for future days), counted directly; shared and reused briefly.
            self.stats["open_live"] += 1
            counted = await self.work.shared(
                ("live", metric.name, tuple(live)),
                lambda: self._count_live(metric, live),
                self.settings.freshness_ms / 1000,
            )
            views.update(counted)
        return views

    async def _count_live(self, metric: Metric, days: list[int]) -> dict[int, ClosedDay]:
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            counted = await counter.count_days(self.db, metric, days, self.params)
            await self.classes(metric).ensure(k for c in counted.values() for k in c.keys)
            return counted

    async def _track(self, metric: Metric, days: list[int]) -> None:
        """Count these open days at a snapshot, replay what the stream delivered since, and keep them."""
        watcher = self.watchers[metric.collection]
        with pymongo.timeout(TRACK_TIMEOUT_S):
            for _ in range(3):
                if not watcher.running:
                    return
                since = await operation_time(self.db)
                found = await counter.count_at(self.db, metric, days, since, self.params)
                ongoing = (
                    await counter.ongoing_at(self.db, metric, days, since, self.params) if metric.is_interval else []
                )
                # From here to the end nothing awaits: the replay and the swap see exactly what the stream applied.
                replay = watcher.replay_after(since)
                if replay is None or not watcher.running:
                    continue  # the log no longer reaches back to the snapshot; take a newer one
                tracker = Tracker(since, {d: OpenDay(d, found.get(d, ({}, 0))[0]) for d in days})
                for key, first, bound in ongoing:
                    _begin(tracker, key, first, bound)
                for doc in replay:
                    self._add(metric, tracker, doc)
                self._trackers[metric.name] = tracker
                return

    def _add(self, metric: Metric, tracker: Tracker, doc: dict) -> None:
        t, key = rules.value(doc, metric.time_field), metric.key_of(doc, self.params)
        if metric.is_interval:
            interval = counter.interval_of(metric, doc)
            if interval is not None and key is not None and rules.matches(metric.rule, doc, self.params):
                first, end, bound = interval
                if end is None:
                    _begin(tracker, key, first, bound)
                    return
                classes = self.classes(metric)
                for slot in range(first, min(end, bound)):
                    day = tracker.days.get(slot // SLOTS_PER_DAY)
                    if day is not None:
                        day.add(key, slot % SLOTS_PER_DAY, classes)
            return
        if isinstance(t, datetime) and key is not None and rules.matches(metric.rule, doc, self.params):
            slot = slot_of(t)
            day = tracker.days.get(slot // SLOTS_PER_DAY)
            if day is not None:
                day.add(key, slot % SLOTS_PER_DAY, self.classes(metric))

    # -- what the change streams say ----------------------------------------------------------------------------
    def inserted(self, collection: str, doc: dict, cluster_time: Timestamp) -> None:
        for metric in self._of(collection):
            tracker = self._trackers.get(metric.name)
            if tracker is not None and cluster_time > tracker.since:
                self._add(metric, tracker, doc)
            t = rules.value(doc, metric.time_field)
            if isinstance(t, datetime):
                known = self._earliest.get(metric.name)
                if known is not None and (known[1] is None or t < known[1]):
                    self._earliest[metric.name] = (known[0], t)
            if metric.is_interval:
                self._interval_changed(metric, doc)  # every closed day it covers, its first one included
            elif isinstance(t, datetime):
                self._changed(metric, t)

    def _interval_changed(self, metric: Metric, doc: Mapping[str, Any]) -> None:
        """Every closed day an interval covers (an insert found later, a session closed late) is recounted."""
        interval = counter.interval_of(metric, doc)
        if interval is None:
            return
        now = datetime.now(UTC)
        first, end, bound = interval
        last = min(end if end is not None else slot_of(now) + 1, bound) - 1
        for day in range(first // SLOTS_PER_DAY, min(last // SLOTS_PER_DAY, self.first_open_day(now) - 1) + 1):
            self._changed_day(metric, day, now)

    def _changed(self, metric: Metric, t: datetime) -> None:
        """A document of this time was inserted or changed: if its UTC day is closed, the day is dropped from the
        state database (so that no instance reads it back unchanged) and recounted if kept in memory."""
        self._changed_day(metric, utc_day_of(t), datetime.now(UTC))

    def _changed_day(self, metric: Metric, day: int, now: datetime) -> None:
        if not self.is_closed(day, now):
            return  # an open day: the tracker has it (inserts), or is counted again (changes)
        self._changes[(metric.name, day)] = self._changes.get((metric.name, day), 0) + 1
        if metric.keeps_history:  # recounted together with what was kept: never dropped from the state database
            self._dirty[metric.name].add(day)
            return
        self._stale[metric.name].add(day)
        if day in self._closed[metric.name]:
            self._dirty[metric.name].add(day)

    async def changed(self, collection: str, doc_id: Any) -> None:
        """A watched field of a document changed (an update event does not carry the document's time)."""
        self._resnapshot.add(collection)
        fields = {f for m in self._of(collection) for f in (m.time_field, m.also_field, *m.ends) if f is not None}
        doc = await self.db[collection].find_one({"_id": doc_id}, dict.fromkeys(fields, 1))
        for metric in self._of(collection):
            t = rules.value(doc or {}, metric.time_field)
            if metric.is_interval:
                if doc is not None:
                    self._interval_changed(metric, doc)
            elif isinstance(t, datetime):
                self._changed(metric, t)
            else:
                self.deleted(collection)  # where the document was is unknown: check every closed day

    def deleted(self, collection: str) -> None:
        self._resnapshot.add(collection)
        if any(not m.keeps_history for m in self._of(collection)):  # sessions' TTL deletions need no sweep
            self._sweep_due = min(self._sweep_due or float("inf"), time.monotonic())

    def reset(self, collection: str) -> None:
        for metric in self._of(collection):
            self._trackers.pop(metric.name, None)
        self.deleted(collection)

    async def flush(self, collection: str) -> None:
        if (
            collection in self._resnapshot
            and time.monotonic() - self._last_resnapshot.get(collection, 0) >= RESNAPSHOT_S
        ):
            self._resnapshot.discard(collection)
            self._last_resnapshot[collection] = time.monotonic()
            for metric in self._of(collection):
                tracker = self._trackers.get(metric.name)
                if tracker is not None:
                    await self._track(metric, sorted(tracker.days))

    # -- background work ----------------------------------------------------------------------------------------
    async def _maintain(self) -> None:
        """Recount changed days every second; refresh room types; the state database forgets changed days."""
        last_refresh = time.monotonic()
        while not self.stopping and not cancelled():
            await asyncio.sleep(1.0)
            try:
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    if self._params_due:
                        await self._refresh_params()
                    await self._recount_dirty()
                    if time.monotonic() - last_refresh >= REFRESH_S:
                        await self.rooms.refresh(self._room_keys)
                        self._earliest.clear()
                        last_refresh = time.monotonic()
                        memory.trim()  # what answers and recounts freed since, back to the system
            except PyMongoError as exc:
                log.warning("background maintenance failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(5.0)

    def pending(self, collection: str) -> dict[str, set[int]]:
        """Per metric of this collection, the closed days whose changes are not in the state database yet (to
        drop, to recount, or being recounted): what a stream's saved position still owes."""
        return {
            m.name: self._stale[m.name] | self._dirty[m.name] | self._recounting[m.name] for m in self._of(collection)
        }

    def owe(self, collection: str, pending: Mapping[str, Iterable[int]]) -> None:
        """Days a saved position still owed (an earlier process stopped before recounting them)."""
        for metric in self._of(collection):
            self._owe(metric, set(pending.get(metric.name, ())))

    def _owe(self, metric: Metric, days: set[int]) -> None:
        """These closed days are counted again; the state database drops them first, unless the metric keeps
        history (its recount merges with what was kept)."""
        self._dirty[metric.name] |= days
        if not metric.keeps_history:
            self._stale[metric.name] |= days

    def history_lost(self, collection: str) -> None:
        self.stats["history_lost"] += 1
        self._history_lost.add(collection)
        self.reset(collection)

    async def _recount_lost(self) -> None:
        """A stream lost its history: every change since its saved position is unknown, so every kept closed day
        of its metrics is counted again (the old counts answer meanwhile). Days only in the state database are
        dropped from it; those of a metric that keeps history are recounted together with what was kept."""
        for collection in sorted(self._history_lost):
            source, days = await self.source(), 0
            for metric in self._of(collection):
                stored = set(await self.store.stored_days(source, metric))
                in_memory = set(self._closed[metric.name])
                if metric.keeps_history:
                    self._owe(metric, stored | in_memory)
                else:
                    await self.store.forget(source, metric, stored - in_memory)
                    self._owe(metric, in_memory)
                days += len(stored | in_memory)
            self._history_lost.discard(collection)
            self.stats["history_recounts"] += days
            log.warning("change stream on %s lost its history: %d kept days are counted again", collection, days)

    def _room_keys(self) -> set[str]:
        """Every key of a room metric that a kept day (closed or open) names."""
        named: set[str] = set()
        for metric in self.metrics.values():
            if metric.keys == "rooms":
                for day in self._closed[metric.name].values():
                    named.update(day.keys)
                tracker = self._trackers.get(metric.name)
                for view in tracker.days.values() if tracker is not None else ():
                    named.update(view.cells)
        return named

    async def _recount_dirty(self) -> None:
        if self._history_lost:
            await self._recount_lost()
        for metric in self.metrics.values():
            stale = set(self._stale[metric.name])
            if stale:  # kept among the pending days until the state database has dropped them
                await self.store.forget(await self.source(), metric, stale)
                self._stale[metric.name] -= stale
            dirty, self._dirty[metric.name] = self._dirty[metric.name], set()
            if dirty:  # the old counts answer until the new ones replace them
                self._recounting[metric.name] |= dirty
                token = CALLER.set(CORRECTIONS)
                try:
                    jobs = self._submit_fill(metric, dirty, recount=True)
                finally:
                    CALLER.reset(token)
                try:
                    await self.work.wait(jobs, None)
                except PyMongoError:
                    self._dirty[metric.name] |= dirty
                    raise
                finally:
                    self._recounting[metric.name] -= dirty

    async def _sweeper(self) -> None:
        """Sweep when a deletion asks for it (at most every MIN_SWEEP_GAP_S) or every sweep_seconds."""
        self._sweep_due = time.monotonic() + self.settings.sweep_seconds
        while not self.stopping and not cancelled():
            await asyncio.sleep(1.0)
            now = time.monotonic()
            gap = min(MIN_SWEEP_GAP_S, self.settings.sweep_seconds)
            if now >= self._sweep_due and now - self._last_sweep >= gap:
                try:
                    await self.sweep(budget=self.settings.sweep_budget)
                except PyMongoError as exc:
                    log.warning("sweep failed (%s); retrying later", type(exc).__name__)
                    self._sweep_due = time.monotonic() + MIN_SWEEP_GAP_S

    async def sweep(self, budget: int = 0) -> int:
        """Compare every kept closed day's raw count with the index, newest first, and recount the days that
        differ; returns how many. `budget`: at most that many index counts a minute (0: no limit)."""
        self._last_sweep = time.monotonic()
        self._sweep_due = time.monotonic() + self.settings.sweep_seconds
        changed = 0
        for metric in self.metrics.values():
            if metric.keeps_history:
                continue  # its documents' deletions are not changes (sessions' TTL)
            closed = self._closed[metric.name]
            days = sorted(closed, reverse=True)
            # Unlimited: 16 index counts at a time; with a budget, one at a time, spaced to keep within it; without
            # an index on the time field, one scan for every day.
            step = (1 if budget else 16) if metric.time_indexed else max(len(days), 1)
            for i in range(0, len(days), step):
                began = time.monotonic()
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    async with self.heavy_reads() as session:
                        raw = await counter.raw_counts(self.heavy_db, metric, days[i : i + step], step, session)
                self.stats["sweep_counts"] += len(raw)
                for day, n in raw.items():
                    kept = closed.get(day)
                    if kept is not None and kept.raw != n:
                        self._dirty[metric.name].add(day)
                        self._stale[metric.name].add(day)
                        changed += 1
                if budget and i + step < len(days):
                    await asyncio.sleep(max(0.0, 60.0 / budget - (time.monotonic() - began)))
        if changed:
            log.info("sweep found %d closed days changed", changed)
            await self._recount_dirty()
        return changed

    def _backfill_first(self, metric: Metric, now: datetime) -> int | None:
        """The first UTC day the start-up backfill counts of this metric (None: its oldest document is not known
        yet, or there is none)."""
        oldest = self._oldest.get(metric.name)
        if oldest is None or self.settings.warm_days <= 0:
            return None
        return max(utc_day_of(oldest), utc_day_of(now) - self.settings.warm_days - 1)

    def progress(self) -> dict[str, Any]:
        """The start-up backfill: closed days counted (or read back) so far, days left, and about how long the
        rest takes at the measured rate (None before anything is known)."""
        now = datetime.now(UTC)
        first_open = self.first_open_day(now)
        counted = left = 0
        for metric in self.metrics.values():
            first = self._backfill_first(metric, now)
            if first is None:
                continue
            have = sum(1 for d in self._closed[metric.name] if first <= d < first_open)
            counted, left = counted + have, left + max(0, first_open - first - have)
        rate = self.work.seconds_per_unit or self.work.prior_seconds_per_unit
        seconds = None if rate is None else round(left * rate / self.work.background_workers)
        return {"days_counted": counted, "days_left": left, "seconds_left": seconds}

    async def _guess_rate(self) -> None:
        """Before any day is counted, the time a day takes is guessed from the collections' sizes (documents per
        day x PRIOR_SECONDS_PER_DOCUMENT), so that the first request that needs years is told at once."""
        now, per_day = datetime.now(UTC), 0.0
        for metric in self.metrics.values():
            oldest = await self.earliest(metric)
            if oldest is not None:
                documents = await self.db[metric.collection].estimated_document_count()
                per_day = max(per_day, documents / max(1, self.first_open_day(now) - utc_day_of(oldest)))
        self.work.prior_seconds_per_unit = per_day * PRIOR_SECONDS_PER_DOCUMENT or None

    async def _warm(self) -> None:
        """Fill closed days in the background (the last `warm_days`, by default all), newest first and after any
        request's counting, without delaying readiness."""
        while not self.stopping and not cancelled():
            try:
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    await self._guess_rate()
                break
            except PyMongoError:
                await asyncio.sleep(5.0)
        if self.settings.warm_days <= 0:
            return
        for metric in self.metrics.values():
            while not self.stopping and not cancelled():
                try:
                    now = datetime.now(UTC)
                    with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                        await self.earliest(metric)
                    first = self._backfill_first(metric, now)
                    if first is None:
                        break
                    closed = self._closed[metric.name]
                    jobs = self._submit_fill(
                        metric, [d for d in range(first, self.first_open_day(now)) if d not in closed]
                    )
                    await self.work.wait(jobs, None)
                    break
                except PyMongoError:
                    await asyncio.sleep(5.0)
        memory.trim()  # the backfill's decoded results, freed, back to the system


def _size(value: Any) -> int:
    """About the memory an answer holds: a JSON text's length; its own `nbytes` (compact rows); a collection's
    items' own `nbytes` (a day of active users: 8 bytes per id), else 100 bytes an item (a row)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(own := getattr(value, "nbytes", None), int):
        return own
    if isinstance(value, list | tuple):
        return sum(n if isinstance(n := getattr(item, "nbytes", None), int) else 100 for item in value)
    return 100 * len(value)


def _begin(tracker: Tracker, key: str, first: int, bound: int) -> None:
    """An open interval from slot `first` (cut at `bound`) in every tracked day it may reach."""
    for day, view in tracker.days.items():
        base = day * SLOTS_PER_DAY
        if first < base + SLOTS_PER_DAY and bound > base:
            view.begin(key, max(first - base, 0), min(bound - base, SLOTS_PER_DAY))


class _ParamListener:
    """Follows the collection a rule's set comes from (users, for the bot users): any change to who matches makes
    the engine read the set again within a second."""

    def __init__(self, engine: Engine, name: str):
        self.engine, self.name = engine, name

    def inserted(self, doc: dict, cluster_time: Timestamp) -> None:
        if rules.matches(PARAM_SOURCES[self.name].rule, doc):
            self.engine._params_due = True

    async def changed(self, doc_id: Any) -> None:
        self.engine._params_due = True

    def deleted(self, doc_id: Any) -> None:
        if doc_id in self.engine.params.get(self.name, ()):
            self.engine._params_due = True

    def reset(self) -> None:
        self.engine._params_due = True

    def history_lost(self) -> None:
        self.engine._params_due = True

    async def flush(self) -> None:
        pass


class _Checkpoint:
    """Where the engine keeps a collection's stream position: with the days it still owes, in one document of the
    state database (see StateStore.save_checkpoint), so that a crash cannot separate the two."""

    def __init__(self, engine: Engine, collection: str):
        self.engine, self.collection = engine, collection

    async def load(self) -> Any:
        engine = self.engine
        saved = await engine.store.load_checkpoint(await engine.source(), self.collection)
        if saved is None:
            return None
        engine.owe(self.collection, saved["pending"])
        if saved["lost"]:
            engine.history_lost(self.collection)
        return saved["token"]

    async def save(self, token: Any) -> None:
        engine = self.engine
        await engine.store.save_checkpoint(
            await engine.source(),
            self.collection,
            token,
            engine.pending(self.collection),
            lost=self.collection in engine._history_lost,
        )


class _Listener:
    """The engine's side of one collection's change stream."""

    def __init__(self, engine: Engine, collection: str):
        self.engine, self.collection = engine, collection

    def inserted(self, doc: dict, cluster_time: Timestamp) -> None:
        self.engine.inserted(self.collection, doc, cluster_time)

    async def changed(self, doc_id: Any) -> None:
        await self.engine.changed(self.collection, doc_id)

    def deleted(self, doc_id: Any) -> None:
        self.engine.deleted(self.collection)

    def reset(self) -> None:
        self.engine.reset(self.collection)

    def history_lost(self) -> None:
        self.engine.history_lost(self.collection)

    async def flush(self) -> None:
        await self.engine.flush(self.collection)

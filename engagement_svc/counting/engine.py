"""Daily totals at any range length: closed days counted once and kept, open days kept fresh.

A day is closed once its local end plus a grace period has passed. A closed day is counted once, per room, in
one scan that also yields its raw message count; the result goes to the state database and to memory, and every
later request reads it from there. Corrections:
- an insert, or a change of `t`/`_hidden`, on a closed day (the change stream tells) recounts that day within
  about a second;
- a deletion carries no day, so it triggers a sweep (at most one a minute, and one every `sweep_seconds`
  regardless) that compares each kept day's raw count with a fresh index-only count and recounts the days that
  differ; days read back from the state database are compared the same way before use.
Open days come from the change-stream watcher; while it is not running they are counted directly, and such a
count is reused for at most `freshness_ms`. Work that requests share (filling days, counting open days)
runs as one background task per day, which a request awaits up to its deadline and which goes on after it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pymongo
from pymongo.errors import PyMongoError

from engagement_svc.counting.rules import DayCount, count_room_days
from engagement_svc.counting.store import StateStore, source_id
from engagement_svc.counting.watcher import Watcher
from engagement_svc.days import load_zone, local_date, local_midnight
from engagement_svc.rocketchat.rooms import RoomTypes
from engagement_svc.settings import Settings

log = logging.getLogger("engagement_svc.counting.engine")

CHUNK_DAYS = 31  # days counted per aggregation: progress is kept per chunk
PARALLEL_COUNTS = 2  # aggregations at once (MongoDB runs each on one core)
BACKGROUND_TIMEOUT_S = 600  # a background count that takes longer than this is abandoned and retried later
MIN_SWEEP_GAP_S = 60  # deletions trigger a sweep at most this often (or every sweep_seconds, if shorter)
ROOM_REFRESH_S = 600


def _report_failure(task: asyncio.Task) -> None:
    """A background task that dies of a bug says so in the log (its type only), instead of vanishing."""
    exc = None if task.cancelled() else task.exception()
    if exc is not None and not isinstance(exc, (PyMongoError, TimeoutError)):
        log.error("background work %s failed: %s", task.get_name(), type(exc).__name__)


class Engine:
    def __init__(self, db, state_db, settings: Settings):
        self.db = db
        self.settings = settings
        self.store = StateStore(state_db)
        self.rooms = RoomTypes(db)
        self.watcher = Watcher(db, on_change=self._message_changed, on_delete=self._deletion_seen)
        self._source: str | None = None
        self._closed: dict[str, dict[date, DayCount]] = {}  # zone -> closed day -> counts
        self._totals: dict[str, dict[int, tuple[int, int]]] = {}  # zone -> day ordinal -> (room generation, total)
        self._jobs: dict[tuple[str, date], asyncio.Task] = {}
        self._live: dict[tuple[str, tuple[date, ...]], tuple[float, asyncio.Task]] = {}
        self._dirty: dict[str, set[date]] = {}  # closed days kept in memory, to recount
        self._stale_state: set[date] = set()  # UTC dates whose kept days (any zone) the state database must drop
        self._open_cache: dict[str, tuple[tuple, dict[date, int]]] = {}  # zone -> (tracker state, totals)
        self._sweep_due = 0.0
        self._last_sweep = 0.0
        self._counting = asyncio.Semaphore(PARALLEL_COUNTS)
        self._tasks: list[asyncio.Task] = []
        self.stats = {
            "closed_hits": 0,
            "closed_misses": 0,
            "state_hits": 0,
            "recounts": 0,
            "open_live": 0,
            "open_tracked": 0,
        }

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            self._background(self.watcher.run()),
            self._background(self._maintain()),
            self._background(self._warm()),
        ]

    async def stop(self, grace_s: float = 2.0) -> set[asyncio.Task]:
        """Cancel the background work and wait up to `grace_s` for it. PyMongo may retry a cancelled read until
        its deadline, so what is still running is returned: closing the client ends it."""
        self.watcher.stopping = True
        tasks = [*self._tasks, *self._jobs.values(), *(t for _, t in self._live.values())]
        for task in tasks:
            task.cancel()
        if not tasks:
            return set()
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        return pending

    @staticmethod
    def _background(coro: Coroutine) -> asyncio.Task:
        """A task outside the caller's context: no request deadline applies to it, and it outlives the request."""
        task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
        task.add_done_callback(_report_failure)
        return task

    async def source(self) -> str:
        if self._source is None:
            self._source = await source_id(self.db)
        return self._source

    def is_closed(self, day: date, zone: ZoneInfo, now: datetime) -> bool:
        return (
            local_midnight(day + timedelta(days=1), zone) + timedelta(seconds=self.settings.close_grace_seconds) <= now
        )

    def open_days(self, zone: ZoneInfo, now: datetime) -> list[date]:
        """Today and the days before it whose grace period has not passed."""
        today = local_date(now, zone)
        days = [today]
        while not self.is_closed(days[-1] - timedelta(days=1), zone, now):
            days.append(days[-1] - timedelta(days=1))
        return sorted(days)

    # -- requests -----------------------------------------------------------------------------------------------
    async def totals(self, zone: ZoneInfo, first: date, last: date) -> list[int]:
        """Messages sent on each local day from `first` to `last`, in that order."""
        now = datetime.now(UTC)
        start, first_open = first.toordinal(), self.open_days(zone, now)[0].toordinal()
        closed = range(start, min(last.toordinal() + 1, first_open))
        result = await self._closed_totals(zone, closed) if closed else []
        open_ = [date.fromordinal(o) for o in range(start + len(result), last.toordinal() + 1)]
        if open_:
            counts = await self._open_totals(zone, open_, now)
            result += [counts[d] for d in open_]
        return result

    async def _closed_totals(self, zone: ZoneInfo, ordinals: range) -> list[int]:
        """Totals of closed days, kept by day ordinal so that a warm range costs one lookup per day."""
        totals = self._totals.setdefault(zone.key, {})
        generation = self.rooms.generation
        known = [t[1] if (t := totals.get(o)) is not None and t[0] == generation else None for o in ordinals]
        if None not in known:
            self.stats["closed_hits"] += len(known)
            return known  # type: ignore[return-value]  # no None in it
        stale = [date.fromordinal(o) for o, t in zip(ordinals, known, strict=True) if t is None]
        closed = self._closed.setdefault(zone.key, {})
        missing = [d for d in stale if d not in closed]
        self.stats["closed_hits"] += len(known) - len(missing)  # answered from memory
        self.stats["closed_misses"] += len(missing)  # read back from the state database, or counted
        if missing:
            await self._shared_fill(zone, missing)
        await self.rooms.ensure(rid for d in stale for rid in closed[d].rooms)
        for d in stale:
            totals[d.toordinal()] = (generation, self.rooms.total(closed[d].rooms))
        return [totals[o][1] for o in ordinals]

    async def _shared_fill(self, zone: ZoneInfo, days: list[date]) -> None:
        """Fill these closed days, joining fills already under way for any of them."""
        waiting = {self._jobs[(zone.key, d)] for d in days if (zone.key, d) in self._jobs}
        todo = [d for d in days if (zone.key, d) not in self._jobs]
        for i in range(0, len(todo), CHUNK_DAYS):
            chunk = todo[i : i + CHUNK_DAYS]
            job = self._background(self._fill(zone, chunk))
            for d in chunk:
                self._jobs[(zone.key, d)] = job
            keys = [(zone.key, d) for d in chunk]
            job.add_done_callback(functools.partial(self._forget, keys))
            waiting.add(job)
        for job in waiting:  # each shielded: a request that gives up leaves the count running for the next one
            await asyncio.shield(job)

    def _forget(self, keys: list[tuple[str, date]], job: asyncio.Task) -> None:
        for key in keys:
            if self._jobs.get(key) is job:
                del self._jobs[key]
        if not job.cancelled():
            job.exception()  # retrieved: a failed fill is reported to the requests that waited for it

    async def _fill(self, zone: ZoneInfo, days: list[date]) -> None:
        """Closed days from the state database (checked against a fresh raw count) or counted afresh."""
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            source = await self.source()
            kept = await self.store.load(source, zone.key, days)
            if kept:
                raw = await self._raw_counts(zone, list(kept))
                kept = {d: c for d, c in kept.items() if c.raw == raw[d]}
                self.stats["state_hits"] += len(kept)
            closed = self._closed.setdefault(zone.key, {})
            closed.update(kept)
            fresh = [d for d in days if d not in kept]
            if fresh:
                await self._recount(zone, fresh)

    async def _recount(self, zone: ZoneInfo, days: list[date]) -> None:
        """Count closed days afresh, keep them in memory and in the state database."""
        async with self._counting:
            counted = await count_room_days(self.db, days, zone)
        self.stats["recounts"] += len(days)
        self._closed.setdefault(zone.key, {}).update(counted)
        totals = self._totals.setdefault(zone.key, {})
        for d in days:
            totals.pop(d.toordinal(), None)
        await self.store.save(await self.source(), zone.key, counted)

    async def _raw_counts(self, zone: ZoneInfo, days: list[date], parallel: int = 16) -> dict[date, int]:
        """Every message per day, from the `{ts: 1}` index alone (no document is read), `parallel` at a time."""

        async def one(d: date) -> tuple[date, int]:
            lo, hi = local_midnight(d, zone), local_midnight(d + timedelta(days=1), zone)
            return d, await self.db.rocketchat_message.count_documents({"ts": {"$gte": lo, "$lt": hi}})

        results: dict[date, int] = {}
        for i in range(0, len(days), parallel):
            results.update(await asyncio.gather(*(one(d) for d in days[i : i + parallel])))
        return results

    async def _open_totals(self, zone: ZoneInfo, days: list[date], now: datetime) -> dict[date, int]:
        tracker = self.watcher.open_days(zone, days)
        if tracker is None and self.watcher.healthy and all(d in self.open_days(zone, now) for d in days):
            # First request for this zone: the watcher counts its open days once, at a snapshot, then keeps them.
            track = self._shared(("track", zone.key), lambda: self.watcher.track(zone, self.open_days(zone, now)), 0)
            await asyncio.shield(track)
            tracker = self.watcher.open_days(zone, days)
        if tracker is not None:
            self.stats["open_tracked"] += 1
            key = (tracker.serial, tracker.version, self.rooms.generation)
            cached = self._open_cache.get(zone.key)
            if cached is None or cached[0] != key:
                await self.rooms.ensure(rid for counts in tracker.days.values() for rid in counts)
                cached = self._open_cache[zone.key] = (key, {d: self.rooms.total(c) for d, c in tracker.days.items()})
            return {d: cached[1][d] for d in days}
        # Without the watcher, open days are counted directly; the count is shared and reused briefly.
        self.stats["open_live"] += 1
        counted = await asyncio.shield(
            self._shared(
                (zone.key, tuple(days)), lambda: self._count_live(zone, days), self.settings.freshness_ms / 1000
            )
        )
        await self.rooms.ensure(rid for c in counted.values() for rid in c.rooms)
        return {d: self.rooms.total(c.rooms) for d, c in counted.items()}

    async def _count_live(self, zone: ZoneInfo, days: list[date]) -> dict[date, DayCount]:
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            return await count_room_days(self.db, days, zone)

    def _shared(self, key, start: Callable[[], Coroutine], keep_seconds: float) -> asyncio.Task:
        """One task per key: callers join it while it runs, and reuse its result for `keep_seconds` after."""
        now = time.monotonic()
        entry = self._live.get(key)
        if entry is None or (
            entry[1].done()
            and (now - entry[0] > keep_seconds or entry[1].cancelled() or entry[1].exception() is not None)
        ):
            task = self._background(start())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._live[key] = entry = (now, task)
            if len(self._live) > 256:  # forget finished entries of zones and ranges no longer asked for
                for k, (_, t) in list(self._live.items()):
                    if t.done() and k != key:
                        del self._live[k]
        return entry[1]

    # -- corrections --------------------------------------------------------------------------------------------
    def _message_changed(self, ts: datetime) -> None:
        """A message of this instant was inserted or changed: its closed day, in every zone, is recounted if kept
        in memory, and dropped from the state database (in every zone the instant falls on the UTC date or the
        one before or after), so that no instance reads it back unchanged."""
        if ts > datetime.now(UTC) - timedelta(seconds=self.settings.close_grace_seconds):
            return  # its day cannot have closed yet in any zone: a new message, not a correction
        for zone_key, closed in self._closed.items():
            day = local_date(ts, ZoneInfo(zone_key))
            if day in closed:
                self._dirty.setdefault(zone_key, set()).add(day)
        utc_day = ts.astimezone(UTC).date()
        self._stale_state.update(utc_day + timedelta(days=k) for k in (-1, 0, 1))

    def _deletion_seen(self) -> None:
        self._sweep_due = min(self._sweep_due or float("inf"), time.monotonic())

    async def _maintain(self) -> None:
        """Recount dirty days every second; sweep when a deletion asks for it or on schedule; refresh room types."""
        last_rooms = time.monotonic()
        self._sweep_due = time.monotonic() + self.settings.sweep_seconds
        while True:
            await asyncio.sleep(1.0)
            try:
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    await self._recount_dirty()
                    now = time.monotonic()
                    gap = min(MIN_SWEEP_GAP_S, self.settings.sweep_seconds)
                    if now >= self._sweep_due and now - self._last_sweep >= gap:
                        await self.sweep()
                    if now - last_rooms >= ROOM_REFRESH_S:
                        await self.rooms.refresh()
                        last_rooms = now
            except PyMongoError as exc:
                log.warning("background maintenance failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(5.0)

    async def _recount_dirty(self) -> None:
        if self._stale_state:
            stale, self._stale_state = self._stale_state, set()
            await self.store.forget(await self.source(), stale)
        dirty, self._dirty = self._dirty, {}
        for zone_key, days in dirty.items():
            try:
                await self._recount(ZoneInfo(zone_key), sorted(days))
            except PyMongoError:
                self._dirty.setdefault(zone_key, set()).update(days)
                raise

    async def sweep(self) -> int:
        """Recount every kept closed day whose raw count no longer matches the index; returns how many."""
        self._last_sweep = time.monotonic()
        self._sweep_due = time.monotonic() + self.settings.sweep_seconds
        changed = 0
        for zone_key, closed in list(self._closed.items()):
            zone = ZoneInfo(zone_key)
            raw = await self._raw_counts(zone, sorted(closed), parallel=PARALLEL_COUNTS)  # gently: nobody waits
            differ = [d for d, n in raw.items() if closed[d].raw != n]
            for i in range(0, len(differ), CHUNK_DAYS):
                await self._recount(zone, differ[i : i + CHUNK_DAYS])
            changed += len(differ)
        if changed:
            log.info("sweep recounted %d closed days", changed)
        return changed

    async def _warm(self) -> None:
        """Fill the default zone's recent closed days in the background, newest first, without delaying readiness."""
        zone = load_zone(self.settings.timezone)
        if zone is None or self.settings.warm_days <= 0:
            return
        now = datetime.now(UTC)
        days = [
            d
            for d in (local_date(now, zone) - timedelta(days=i) for i in range(self.settings.warm_days + 3))
            if self.is_closed(d, zone, now)
        ][: self.settings.warm_days]
        for i in range(0, len(days), CHUNK_DAYS):
            chunk = [d for d in days[i : i + CHUNK_DAYS] if d not in self._closed.get(zone.key, {})]
            while chunk:
                try:
                    await self._shared_fill(zone, chunk)
                    break
                except PyMongoError:
                    await asyncio.sleep(5.0)

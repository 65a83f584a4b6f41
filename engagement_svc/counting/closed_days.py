"""Closed days' kept counts: read back from the state database or counted, once, whichever replica asks first.

A closed day is counted once per key and 15-minute slot, in one scan that also yields its raw document count, kept
in memory and in the state database; every later request in any zone reads it from there. A day read back is
checked against a fresh index-only raw count first (a deletion since makes them differ). A day another replica is
counting now (its claim, in the state database) is taken from it once saved, not counted twice at once. The days of
the detail metrics (not backfilled: a key per room and author, or per user and client) stay in memory within a
bound, the least recently read leaving it first (the state database keeps them).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import secrets
import socket
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping

import pymongo

from engagement_svc.counting import counter
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.classes import Classes
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.counting.ledger import Ledger
from engagement_svc.counting.source import Source
from engagement_svc.counting.work import BACKGROUND, BACKGROUND_TIMEOUT_S, CALLER, DEADLINE, Job, Work
from engagement_svc.mongo_types import Database, Session
from engagement_svc.rocketchat.changes import Watcher, operation_time

CHUNK_DAYS = 8  # UTC days per counting job at most; a request's days are split evenly across the workers
# An interval metric's job also reads the lookback days before its first day (3 for sessions): in longer jobs
# that is less of the reading. A request's jobs are longer than the backfill's.
INTERVAL_CHUNK_DAYS = 3 * CHUNK_DAYS
INTERVAL_BACKGROUND_CHUNK_DAYS = 2 * CHUNK_DAYS
# The backfill runs on every worker while no request waits, in jobs short enough that a request that comes waits
# for at most one of them; sessions' days are cheaper.
BACKGROUND_CHUNK_DAYS = CHUNK_DAYS // 2
CLAIM_S = 60.0  # a replica's claim on the days it counts lasts this long (longer jobs may be counted twice)
CLAIM_POLL_S = 0.25  # how often a replica looks for days another one is counting
CATCH_UP_S = 30.0  # at most this long, kept counts wait for a resumed stream to replay what it missed
STR_BYTES = 49  # a key's string object beside its characters (CPython, ASCII)


class _Holding:
    """The detail days one request has read (see `ClosedDays.request_hold`), until it has answered."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, int]] = []
        self.open = True


_HOLDING: contextvars.ContextVar[_Holding | None] = contextvars.ContextVar("holding", default=None)


def detail_weight(day: ClosedDay) -> int:
    """About the memory a detail day holds, its keys' strings counted as its own: a (room, author) key is shared
    with the days the same author posts in the same room, far fewer than a room's or a user's id are."""
    return day.nbytes() + STR_BYTES * len(day.keys) + sum(map(len, day.keys))


def _prepared(days: list[ClosedDay], classes: Classes, metric: Metric) -> None:
    """The running sums of these days' counted classes, made ahead (see `_fill_days`)."""
    everything = metric.counted_for("include")
    for day in days:
        day.counted_prefix(classes, everything)


class ClosedDays:
    def __init__(
        self,
        source: Source,
        heavy_db: Database,
        work: Work,
        ledger: Ledger,
        metrics: Mapping[str, Metric],
        classes: Callable[[Metric], Classes],
        watchers: Mapping[str, Watcher],
        detail_bytes: int = 64 * 2**20,
    ):
        """`heavy_db`: the source database with MONGO_URL's read preference, for counting closed days.
        `detail_bytes`: about the most memory the detail metrics' days (those not backfilled: a key per room and
        author, or per user and client, about one per document) hold between requests. Past it the days read
        least recently leave memory; the state database keeps them, and `fill` reads them back when asked."""
        self._source, self._heavy_db, self._work, self._ledger = source, heavy_db, work, ledger
        self._metrics, self._classes, self._watchers = metrics, classes, watchers
        self._days: dict[str, dict[int, ClosedDay]] = {m: {} for m in metrics}
        self._detail_bytes = detail_bytes
        self._recent: OrderedDict[tuple[str, int], int] = OrderedDict()  # detail days, least recently read first
        self._recent_bytes = 0
        self._held: Counter[tuple[str, int]] = Counter()  # detail days a request is reading: never dropped meanwhile
        self._dropped: set[tuple[str, int]] = set()  # detail days left memory unchanged (see `_fill_days`)
        self._versions: dict[str, int] = {}  # metric -> changes of what its days counted (answers check it)
        self._filled: dict[str, int] = {}  # metric -> days first kept or read back (running sums check it)
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"  # this process, for claims
        self.stats = {
            "closed_hits": 0,
            "closed_misses": 0,
            "state_hits": 0,
            "recounts": 0,
            "shared_days": 0,
            "detail_dropped": 0,
        }

    def of(self, metric: Metric) -> Mapping[int, ClosedDay]:
        """The metric's kept closed days, by UTC day (read only: they change through `fill` and `recount`, and a
        detail metric's may leave memory at any await: take what is needed before one)."""
        return self._days[metric.name]

    def version(self, metric: Metric) -> int:
        """Changes of what the metric's days counted, once read: what remembered answers are checked against. A
        day kept for the first time does not change it: no answer read that day before (see `_fill_days`)."""
        return self._versions.get(metric.name, 0)

    def filled(self, metric: Metric) -> int:
        """Changes of which of the metric's days are kept: what sums over every kept day are checked against."""
        return self._filled.get(metric.name, 0)

    def outdated(self, metric: Metric) -> None:
        """A closed day not kept changed (an old message imported, say): what was remembered from the kept days,
        that day's nothing included, is stale."""
        self._versions[metric.name] = self.version(metric) + 1

    def kept(self) -> tuple[int, int]:
        """UTC days of kept counts in memory (every metric), and about how many bytes they hold."""
        days = [d for closed in self._days.values() for d in closed.values()]
        return len(days), sum(d.nbytes() for d in days)

    def missing(self, metric: Metric, days: Iterable[int]) -> list[int]:
        """Of these closed days, those not kept (counted for the hits and misses in /metrics)."""
        days = list(days)
        kept = self._days[metric.name]
        missing = [d for d in days if d not in kept]
        self.stats["closed_hits"] += len(days) - len(missing)
        self.stats["closed_misses"] += len(missing)
        if not metric.backfilled:
            for day in days:
                if (metric.name, day) in self._recent:
                    self._recent.move_to_end((metric.name, day))
        return missing

    @contextlib.contextmanager
    def held(self, metric: Metric, days: Iterable[int]) -> Iterator[None]:
        """While a read fills these days and takes them in hand, none of them leaves memory (a year of a big
        server's detail days may pass the bound). Within `request_hold`, they stay until the request ends."""
        if metric.backfilled:
            yield
            return
        keys = [(metric.name, day) for day in days]
        self._held.update(keys)
        holding = _HOLDING.get()
        if holding is not None and holding.open:
            holding.keys.extend(keys)
            yield
            return
        try:
            yield
        finally:
            self._release(keys)

    @contextlib.contextmanager
    def request_hold(self) -> Iterator[None]:
        """The detail days a request reads stay in memory until it has answered: its several reads of the same
        days (each day's posters, then the 7 and 30 days before each) read them from the state database once."""
        holding = _Holding()
        token = _HOLDING.set(holding)
        try:
            yield
        finally:
            _HOLDING.reset(token)
            holding.open = False  # a task that outlives the request holds its own days, released by itself
            self._release(holding.keys)

    def _release(self, keys: list[tuple[str, int]]) -> None:
        if keys:
            self._held.subtract(keys)
            self._held = +self._held  # the days no read holds any more leave the counter
            self._drop_over()

    def _keep(self, metric: Metric, days: Mapping[int, ClosedDay]) -> None:
        self._days[metric.name].update(days)
        if metric.backfilled:
            return
        for day, counts in days.items():
            key = (metric.name, day)
            weight = detail_weight(counts)
            self._recent_bytes += weight - self._recent.pop(key, 0)
            self._recent[key] = weight
            self._dropped.discard(key)
        self._drop_over()

    def _drop_over(self) -> None:
        """The detail days read least recently leave memory until the rest fit the bound (held days stay)."""
        if self._recent_bytes <= self._detail_bytes:
            return
        over = self._recent_bytes - self._detail_bytes
        dropped: list[tuple[str, int]] = []
        for key, weight in self._recent.items():
            if over <= 0:
                break
            if key not in self._held:
                dropped.append(key)
                over -= weight
        for key in dropped:
            self._recent_bytes -= self._recent.pop(key)
            del self._days[key[0]][key[1]]
        self._dropped.update(dropped)
        self.stats["detail_dropped"] += len(dropped)

    def detail_bytes(self) -> int:
        """About the memory the detail metrics' days in memory hold (bounded by `detail_bytes` between requests)."""
        return self._recent_bytes

    async def fill(self, metric: Metric, days: list[int]) -> None:
        """Closed days from the state database or counted, newest first, through the fair queue; raises Busy at
        once when they cannot be ready before the request's deadline."""
        await self._work.wait(self.submit(metric, days), DEADLINE.get())

    def submit(self, metric: Metric, days: Iterable[int], recount: bool = False) -> list[Job]:
        """Jobs (queued for the current caller, or joined) that fill these days, newest first; with `recount`,
        counted afresh whatever is kept."""
        kind = "recount" if recount else "fill"
        background = CALLER.get() == BACKGROUND
        if metric.is_interval:
            chunk = INTERVAL_BACKGROUND_CHUNK_DAYS if background else INTERVAL_CHUNK_DAYS
        else:
            chunk = BACKGROUND_CHUNK_DAYS if background else CHUNK_DAYS
        return self._work.submit([(kind, metric.name, d) for d in sorted(days, reverse=True)], self._run, chunk)

    async def _run(self, keys: list[tuple[str, str, int]]) -> None:
        kind, name = keys[0][0], keys[0][1]
        await self._fill_days(self._metrics[name], sorted(k[2] for k in keys), recount=kind == "recount")

    async def _fill_days(self, metric: Metric, days: list[int], recount: bool) -> None:
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            seen = {d: self._ledger.changes(metric, d) for d in days}
            source = self._source.known_id()
            if not recount:  # what the stream replays from its saved position is marked before anything is read
                await self._watchers[metric.collection].settled(CATCH_UP_S)
            kept = {} if recount else await self._source.store.load(source, metric, days)
            if self._ledger.history_lost(metric.collection):
                kept = {}  # every kept day is to be counted again
            owed = self._ledger.pending(metric)
            kept = {d: c for d, c in kept.items() if d not in owed}
            async with self.heavy_reads() as session:
                if kept and not metric.keeps_history:
                    raw = await counter.raw_counts(self._heavy_db, metric, list(kept), 16, session)
                    kept = {d: c for d, c in kept.items() if c.raw == raw[d]}
                fresh = [d for d in days if d not in kept]
                if recount:
                    counted = await self._count_and_save(source, metric, fresh, session)
                else:  # a day another replica is counting now is taken from it, not counted twice at once
                    store = self._source.store
                    mine = await store.claim(source, metric, fresh, self.replica, CLAIM_S)
                    try:
                        counted = await self._count_and_save(source, metric, sorted(mine), session)
                    finally:
                        await store.release(source, metric, mine, self.replica)
                    others = [d for d in fresh if d not in mine]
                    if others:
                        kept.update(await self._counted_elsewhere(source, metric, others, session))
            self.stats["state_hits"] += len(kept)
            classes = self._classes(metric)
            await classes.ensure(k for c in kept.values() for k in c.keys)
            # The sums requests read, made here rather than by the next request for all of the job's days at once,
            # and in a thread: on the event loop, making a big day's sums would hold up every request meanwhile. The
            # days are not yet seen by anything else. Counted days were given theirs as they were saved.
            await asyncio.to_thread(_prepared, list(kept.values()), classes, metric)
            # Remembered answers stay, unless a day read before was counted again. A day kept for the first time
            # was never read: a change to a day not kept outdates at once (`outdated`), so an answer that read it
            # from the source is already stale. A day that left memory and is read back unchanged is the same day;
            # one counted again (a change dropped it from the state database) may not be.
            stale = recount or any((metric.name, d) in self._dropped for d in counted)
            self._keep(metric, {**kept, **counted})
            self._filled[metric.name] = self.filled(metric) + 1
            if stale:
                self._versions[metric.name] = self.version(metric) + 1
            # a change seen while counting: the count may predate it
            self._ledger.owe(metric, {d for d in days if self._ledger.changes(metric, d) != seen[d]})

    async def _count_and_save(
        self, source: str, metric: Metric, days: list[int], session: Session
    ) -> dict[int, ClosedDay]:
        """These closed days counted (with what was kept of them, for a metric that keeps history) and saved."""
        if not days:
            return {}
        counted = await counter.count_days(self._heavy_db, metric, days, self._source.params, session)
        if metric.keeps_history:  # what was kept of a day counted again still counts
            counted = await self._with_history(source, metric, counted)
        self.stats["recounts"] += len(counted)
        # Saved while their running sums are made, not one after the other: both are on the path of a request
        # that waits for these days.
        classes = self._classes(metric)
        await classes.ensure(k for c in counted.values() for k in c.keys)
        days_counted = list(counted.values())
        await asyncio.gather(
            self._source.store.save(source, metric, days_counted),
            asyncio.to_thread(_prepared, days_counted, classes, metric),
        )
        return counted

    async def _counted_elsewhere(
        self, source: str, metric: Metric, days: list[int], session: Session
    ) -> dict[int, ClosedDay]:
        """Days another replica claimed: read from the state database once it has saved them; a day whose claim
        ends without its count (that replica stopped) is counted here."""
        store = self._source.store
        found: dict[int, ClosedDay] = {}
        left = set(days)
        while left:
            await asyncio.sleep(CLAIM_POLL_S)  # polled: another process's save has no event to await here
            found.update(await store.load(source, metric, sorted(left)))
            left -= found.keys()
            if left:
                free = left - await store.claimed(source, metric, left)
                if free:
                    found.update(await self._count_and_save(source, metric, sorted(free), session))
                    left -= free
        self.stats["shared_days"] += len(days)
        return found

    async def _with_history(self, source: str, metric: Metric, counted: dict[int, ClosedDay]) -> dict[int, ClosedDay]:
        """Recounted days of a metric that keeps history, together with what was kept of them: documents the
        source has forgotten since (sessions past Rocket.Chat's TTL) still count. Kept keys are flagged again by
        the current parameters (a user who became a bot moves, rather than counting twice)."""
        closed = self._days[metric.name]
        in_memory = {d: closed[d] for d in counted if d in closed}  # taken now: a day may leave memory meanwhile
        unknown = [d for d in counted if d not in in_memory]
        before = {**(await self._source.store.load(source, metric, unknown) if unknown else {}), **in_memory}
        out: dict[int, ClosedDay] = {}
        for day, fresh in counted.items():
            old = before.get(day)
            if old is None:
                out[day] = fresh
                continue
            cells = fresh.cells()
            for (key, slot), n in old.cells().items():
                again = metric.reflagged(key, self._source.params)
                cells[(again, slot)] = max(cells.get((again, slot), 0), n)
            out[day] = ClosedDay.of_cells(day, cells, fresh.raw)
        return out

    @contextlib.asynccontextmanager
    async def heavy_reads(self) -> AsyncIterator[Session]:
        """The session for counting closed days. When MONGO_URL's read preference sends reads elsewhere than the
        primary (secondaryPreferred, say), a causally consistent session that has seen the primary's current
        operation time: a member behind it waits until it has caught up, so a lagging secondary never counts
        less than the change stream has told. With the primary, no session (None)."""
        if self._heavy_db.read_preference.mode == 0:
            yield None
            return
        now = await operation_time(self._source.db)
        async with self._heavy_db.client.start_session(causal_consistency=True) as session:
            session.advance_operation_time(now)
            yield session

    async def raw_counts(self, metric: Metric, days: list[int], at_once: int) -> dict[int, int]:
        """Each day's raw document count from the index (what a kept day's `raw` is compared with)."""
        async with self.heavy_reads() as session:
            return await counter.raw_counts(self._heavy_db, metric, days, at_once, session)

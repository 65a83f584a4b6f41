"""The engine: kept counts of every metric, per key and UTC slot, and the typed read API reports call.

A small facade over the counting core, one concept a module (see docs/layout.md): clock, ledger, source, oldest,
closed_days, open_days, reading (with partial_days and room_subjects), remembered, corrections, backfill.
Memory and work do not grow with the zones asked: kept counts are per UTC day, per-zone work a request's arithmetic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting.backfill import Backfill
from engagement_svc.counting.catalog import CATALOG, Metric
from engagement_svc.counting.classes import Classes, EveryKey, SecondParts
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.closed_days import ClosedDays
from engagement_svc.counting.corrections import Corrections
from engagement_svc.counting.ledger import Ledger
from engagement_svc.counting.oldest import Oldest
from engagement_svc.counting.open_days import OpenDays
from engagement_svc.counting.reading import Reader, Rooms
from engagement_svc.counting.remembered import RememberedAnswers, Stamp
from engagement_svc.counting.slots import Span
from engagement_svc.counting.source import Source
from engagement_svc.counting.store import StateStore
from engagement_svc.counting.work import Work
from engagement_svc.mongo_types import Database
from engagement_svc.rocketchat.changes import ChangeStreams, Watcher
from engagement_svc.rocketchat.rooms import RoomTypes
from engagement_svc.settings import Settings
from engagement_svc.tasks import background

PARALLEL_COUNTS = 2  # counting jobs at once (MongoDB runs each aggregation on one core)
Counted = tuple[str, ...] | None


class Engine:
    def __init__(
        self,
        db: Database,
        state_db: Database,
        settings: Settings,
        streams: ChangeStreams,
        metrics: Mapping[str, Metric] = CATALOG,
        heavy_db: Database | None = None,
    ):
        """`db`: where reads that need the newest data go (the primary); `heavy_db`: the same database with the
        read preference of MONGO_URL, for counting closed days (default: `db`)."""
        self.rooms = RoomTypes(db, streams.on("rocketchat_room"))
        users, parts = EveryKey("user"), SecondParts()

        def classes(metric: Metric) -> Classes:
            """What the metric's keys stand for: the room-type map for room keys (a compound key's first part is its
            room); one class for user keys; a compound key's second part for "parts" keys (a session's client)."""
            return self.rooms if metric.keys == "rooms" else parts if metric.keys == "parts" else users

        self.work = Work(PARALLEL_COUNTS)
        self.clock = DayClock(settings.close_grace_seconds)
        ledger = Ledger(metrics)
        self.source = Source(db, StateStore(state_db), self.work, metrics, self._set_changed)
        watchers: dict[str, Watcher] = {}  # filled by the corrections, which listen to them
        heavy, detail_bytes = db if heavy_db is None else heavy_db, settings.detail_days_mb * 2**20
        self.closed = ClosedDays(self.source, heavy, self.work, ledger, metrics, classes, watchers, detail_bytes)
        self.open = OpenDays(self.source, self.work, self.clock, classes, watchers, settings.freshness_ms)
        oldest = Oldest(
            self.source, self.work, lambda m: watchers[m.collection].healthy, self.closed, settings.freshness_ms
        )
        self.reader = Reader(self.source, self.clock, self.closed, self.open, oldest, classes, metrics)
        self.answers = RememberedAnswers()
        self.corrections = Corrections(
            metrics, settings, streams, self.source, self.clock, ledger, self.closed, self.open, oldest, self.rooms,
            self.work,
        )  # fmt: skip
        watchers.update(self.corrections.watchers)
        self.backfill = Backfill(metrics, self.source, self.clock, self.closed, oldest, self.work, settings.warm_days)
        self._tasks: list[asyncio.Task[None]] = []

    async def _set_changed(self, source: str, name: str, changed: list[str]) -> None:
        await self.corrections.set_changed(source, name, changed)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.work.start()
        loops = (self.corrections.maintain(), "maintain"), (self.corrections.sweeper(), "sweeper")
        self._tasks = [background(loop, name) for loop, name in (*loops, (self.backfill.run(), "warm"))]

    def stop(self) -> list[asyncio.Future[Any]]:
        """Background loops end at their next turn; the tasks are returned, cancelled once the clients close."""
        self.corrections.stop()
        self.backfill.stop()
        return [*self._tasks, *self.work.stop()]

    def backfill_done(self) -> bool:  # the start-up backfill has ended (every closed day it was to count is kept)
        return any(t.get_name() == "warm" and t.done() for t in self._tasks)

    # -- what operators see -------------------------------------------------------------------------------------
    @property
    def watchers(self) -> Mapping[str, Watcher]:
        return self.corrections.watchers

    @property
    def watcher(self) -> Watcher:  # the messages' change stream (the one every endpoint so far depends on)
        return self.watchers["rocketchat_message"]

    @property
    def stats(self) -> dict[str, int]:
        return {**self.closed.stats, **self.open.stats, **self.reader.stats, **self.corrections.stats}

    def caches(self) -> list[BoundedCache[Any, Any]]:  # each of its own key and value types
        return [self.reader.cache, self.reader.slot_indexes, self.answers.cache]

    def kept(self) -> tuple[int, int]:  # UTC days of kept counts in memory (every metric), and about their bytes
        return self.closed.kept()

    def progress(self) -> dict[str, int | None]:
        return self.backfill.progress()

    # -- the read API reports call (`counted` None: every class that counts, bots in; `rooms`: theirs alone) ----
    async def sums(
        self, metric: Metric, spans: Sequence[Span], counted: Counted = None, rooms: Rooms = None
    ) -> list[int]:
        """Per span, the sum over the keys that count (for messages: rooms of type c, p or d)."""
        return await self.reader.sums(metric, spans, counted or metric.counted_for("include"), rooms)

    async def sums_by_class(self, metric: Metric, spans: Sequence[Span], rooms: Rooms = None) -> list[dict[str, int]]:
        """Per span, {class: sum} over every class (room types c, p, d, l, v..., flagged ones apart)."""
        return await self.reader.sums_by_class(metric, spans, rooms)

    async def sums_by_key(
        self, metric: Metric, span: Span, counted: Counted = None, rooms: Rooms = None
    ) -> dict[str, int]:
        """Per key that counts, its sum over one span, flagged and plain counts of a key added together."""
        return await self.reader.sums_by_key(metric, span, counted or metric.counted_for("include"), rooms)

    async def distinct(
        self, metric: Metric, spans: Sequence[Span], counted: Counted = None, rooms: Rooms = None
    ) -> list[int]:
        """Per span, how many different subjects that count have anything in it (users, say)."""
        return await self.reader.distinct(metric, spans, counted or metric.counted_for("include"), rooms)

    async def key_lists(
        self, metric: Metric, spans: Sequence[Span], counted: Counted = None, rooms: Rooms = None
    ) -> list[list[str]]:
        """Per span, the sorted subjects that count with anything in it (a year of active users: 365 lists)."""
        return await self.reader.key_lists(metric, spans, counted or metric.counted_for("include"), rooms)

    async def presence(
        self, metric: Metric, spans: Sequence[Span], counted: Counted = None, rooms: Rooms = None
    ) -> tuple[Mapping[str, int], Mapping[str, int]]:
        """Per subject that counts: in how many spans it has anything, and the last one's index."""
        return await self.reader.presence(metric, spans, counted or metric.counted_for("include"), rooms)

    async def subject_counts(
        self, metric: Metric, span: Span, counted: Counted = None, rooms: Rooms = None
    ) -> dict[str, int]:
        """Per room, how many different subjects (authors) that count it has in a span: a channel list's posters."""
        return await self.reader.room_subjects.counts(metric, span, counted or metric.counted_for("include"), rooms)

    async def subjects(
        self, metric: Metric, span: Span, counted: tuple[str, ...], rooms: frozenset[str], among: Rooms = None
    ) -> dict[str, frozenset[str]]:
        """Per room of these, its subjects (of `among`) that count in a span (which of them a room had)."""
        return await self.reader.room_subjects.sets(metric, span, counted, rooms, among)

    def open_edge(self, metric: Metric) -> tuple[int, Hashable]:
        return self.reader.open_edge(metric)  # where the open days begin; what reads before it depend on

    async def earliest(self, metric: Metric) -> datetime | None:
        """The time of the metric's oldest document (nothing counts before it); None when there is none."""
        return await self.reader.earliest(metric)

    # -- remembered answers -------------------------------------------------------------------------------------
    def stamp(self, metric: Metric, open_days: bool = True) -> Stamp | None:
        """What answers about the metric depend on while its stream is followed: equal stamps, equal counts (without
        `open_days`: answers that read none of its open days, never None)."""
        now, closed = self.clock.now(), self.reader.version(metric)
        opened = self.open.stamp(metric, now) if open_days else ()
        return None if opened is None else (*closed, self.clock.first_open_day(now), self.clock.today(now), *opened)

    async def follow(self, metric: Metric, wait: bool = True) -> Stamp | None:
        """The stamp once the metric's open days are followed (see `OpenDays.follow`): what is read after it, kept."""
        await self.open.follow(metric, self.clock.now(), wait)
        return self.stamp(metric)

    def changed_keys(self, metric: Metric, since: Stamp | None) -> set[str] | None:
        return self.open.changed_since(metric, since, self.stamp(metric))  # see OpenDays.changed_since

    def remembered(self, key: Hashable, stamp: Stamp | None) -> Any:
        """What `remember` kept under this key at this stamp (see `stamp`), else None. Any: the caller knows what it
        kept under its key (answers of every report's type share the one cache)."""
        return self.answers.get(key, stamp)

    def remember(self, key: Hashable, stamp: Stamp | None, value: object) -> None:
        """Keep an answer derived from counts while the stamp holds (see counting/remembered.py for the bound)."""
        self.answers.put(key, stamp, value)

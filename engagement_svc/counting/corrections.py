"""Corrections: what the change streams say, turned into recounts of the closed days it touches.

An insert, or a change of a field a rule reads, on a closed day drops the day from the state database and
recounts it within about a second. A deletion names no day: it makes the sweeper compare each kept day's raw
count with an index-only count, within a budget of counts per minute, and recount the days that differ. A stream
that lost its history makes every kept day of its metrics owed. A change to a rule's set (a user who becomes a
bot) recounts the days holding documents of the ids that changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pymongo
from bson import Timestamp
from pymongo.errors import PyMongoError

from engagement_svc import memory
from engagement_svc.counting import counter, rules
from engagement_svc.counting.catalog import PARAM_SOURCES, Metric
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.closed_days import ClosedDays
from engagement_svc.counting.ledger import Ledger
from engagement_svc.counting.oldest import REFRESH_S, Oldest
from engagement_svc.counting.open_days import OpenDays
from engagement_svc.counting.slots import SLOTS_PER_DAY, slot_of, utc_day_of
from engagement_svc.counting.source import Source
from engagement_svc.counting.work import BACKGROUND_TIMEOUT_S, CALLER, Work
from engagement_svc.mongo_types import Document, ResumeToken
from engagement_svc.rocketchat.changes import ChangeStreams, Watcher
from engagement_svc.rocketchat.rooms import RoomTypes
from engagement_svc.settings import Settings
from engagement_svc.tasks import cancelled

log = logging.getLogger("engagement_svc.engine")

MIN_SWEEP_GAP_S = 60  # deletions trigger a sweep at most this often (or every sweep_seconds, if shorter)
RETRY_S = 5.0
CORRECTIONS = "~corrections"  # the owner of recounts: a caller of its own, ahead of background work


class Corrections:
    def __init__(
        self,
        metrics: Mapping[str, Metric],
        settings: Settings,
        streams: ChangeStreams,
        source: Source,
        clock: DayClock,
        ledger: Ledger,
        closed: ClosedDays,
        open_days: OpenDays,
        oldest: Oldest,
        rooms: RoomTypes,
        work: Work,
    ):
        self._metrics, self._settings, self._source, self._clock = metrics, settings, source, clock
        self._ledger, self._closed, self._open, self._oldest = ledger, closed, open_days, oldest
        self._rooms, self._work = rooms, work
        self._params_due = False
        self._sweep_due = 0.0
        self._last_sweep = 0.0
        self._stopping = False
        self.stats = {"sweep_counts": 0, "history_lost": 0, "history_recounts": 0}
        self.watchers: dict[str, Watcher] = {}
        for collection in {m.collection for m in metrics.values()}:
            fields = set().union(*(m.watched_fields for m in self.metrics_of(collection)))
            self.watchers[collection] = watcher = streams.on(collection)
            watcher.listen(_Listener(self, collection), fields, fields)
            watcher.checkpoint = _Checkpoint(self, source, ledger, collection)
        if any(m.uses_params for m in metrics.values()):
            for name, param in PARAM_SOURCES.items():
                param_fields = rules.fields(param.rule)
                streams.on(param.collection).listen(_ParamListener(self, source, name), param_fields, param_fields)

    def metrics_of(self, collection: str) -> list[Metric]:
        return [m for m in self._metrics.values() if m.collection == collection]

    def stop(self) -> None:
        self._stopping = True

    # -- what the change streams say ----------------------------------------------------------------------------
    def inserted(self, collection: str, doc: Document, cluster_time: Timestamp) -> None:
        for metric in self.metrics_of(collection):
            self._open.inserted(metric, doc, cluster_time)
            t = rules.value(doc, metric.time_field)
            if isinstance(t, datetime):
                self._oldest.inserted(metric, t)
            if metric.is_interval:
                self._interval_changed(metric, doc)  # every closed day it covers, its first one included
            elif isinstance(t, datetime):
                self._changed_day(metric, utc_day_of(t), self._clock.now())

    def _interval_changed(self, metric: Metric, doc: Mapping[str, Any]) -> None:
        """Every closed day an interval covers (an insert found later, a session closed late) is recounted."""
        interval = counter.interval_of(metric, doc)
        if interval is None:
            return
        now = self._clock.now()
        first, end, bound = interval
        last = min(end if end is not None else slot_of(now) + 1, bound) - 1
        for day in range(first // SLOTS_PER_DAY, min(last // SLOTS_PER_DAY, self._clock.first_open_day(now) - 1) + 1):
            self._changed_day(metric, day, now)

    def _changed_day(self, metric: Metric, day: int, now: datetime) -> None:
        """A document of this closed day was inserted or changed: the state database drops the day (so that no
        replica reads it back unchanged) and it is recounted if kept in memory. An open day: the tracker has it
        (inserts), or it is counted again (changes)."""
        if self._clock.is_closed(day, now):
            kept = day in self._closed.of(metric)
            self._ledger.changed(metric, day, kept=kept)
            if not kept:  # a day not kept (before the oldest document, say) was remembered as nothing
                self._closed.outdated(metric)

    async def changed(self, collection: str, doc_id: object) -> None:
        """A watched field of a document changed (an update event does not carry the document's time)."""
        self._open.count_again(collection)
        metrics = self.metrics_of(collection)
        fields = {f for m in metrics for f in (m.time_field, m.also_field, *m.ends) if f is not None}
        doc = await self._source.db[collection].find_one({"_id": doc_id}, dict.fromkeys(fields, 1))
        for metric in metrics:
            t = rules.value(doc or {}, metric.time_field)
            if metric.is_interval:
                if doc is not None:
                    self._interval_changed(metric, doc)
            elif isinstance(t, datetime):
                self._changed_day(metric, utc_day_of(t), self._clock.now())
            else:
                self.deleted(collection)  # where the document was is unknown: check every closed day

    def deleted(self, collection: str) -> None:
        """A document was deleted (where it was is unknown): the sweep finds the kept days it changes; what was read
        straight from the source (a few rooms' days, a list's posters) or derived from days no longer in memory,
        which the sweep does not see, is stale at once."""
        self._open.count_again(collection)
        if any(not m.keeps_history for m in self.metrics_of(collection)):  # sessions' TTL deletions need no sweep
            self._sweep_due = min(self._sweep_due or float("inf"), time.monotonic())
        for metric in self.metrics_of(collection):
            if not metric.keeps_history:
                self._closed.outdated(metric)

    def reset(self, collection: str) -> None:
        """The stream started again from now: what it may have missed is looked for, and nothing remembered holds."""
        for metric in self.metrics_of(collection):
            self._open.forget(metric)
            self._closed.outdated(metric)
        self.deleted(collection)

    def history_lost(self, collection: str) -> None:
        self.stats["history_lost"] += 1
        self._ledger.lose_history(collection)
        self.reset(collection)

    async def flush(self, collection: str) -> None:
        await self._open.flush(collection, self.metrics_of(collection))

    @property
    def params_pending(self) -> bool:
        """A rule's set is to be read again (its collection changed since it was last read)."""
        return self._params_due

    def params_due(self) -> None:
        """A rule's set may have changed: it is read again within a second."""
        self._params_due = True

    async def set_changed(self, source: str, name: str, changed: list[str]) -> None:
        """These ids joined or left a rule's set: the closed days holding their documents are counted again (a
        metric that keeps history at once, with what was kept, before the new set is saved)."""
        now = self._clock.now()
        for metric in self._metrics.values():
            if metric.uses_params:
                days = await counter.days_of(self._source.db, metric, metric.user_field, changed)
                closed = {d for d in days if self._clock.is_closed(d, now)}
                if metric.keeps_history:
                    await self._work.wait(self._closed.submit(metric, closed, recount=True), None)
                else:
                    for day in days:
                        self._changed_day(metric, day, now)
                    await self._source.store.forget(source, metric, closed)
                self._open.count_again(metric.collection)

    # -- recounts -----------------------------------------------------------------------------------------------
    async def maintain(self) -> None:
        """Recount changed days every second; read the rules' sets again when due; refresh room types."""
        last_refresh = time.monotonic()
        while not self._stopping and not cancelled():
            await asyncio.sleep(1.0)  # a period, not a wait for an event: changes are gathered for a second
            try:
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    if self._params_due:
                        self._params_due = False
                        await self._source.refresh_params()
                    await self.recount_owed()
                    if time.monotonic() - last_refresh >= REFRESH_S:
                        await self.refresh()
                        last_refresh = time.monotonic()
                        memory.trim()  # what answers and recounts freed since, back to the system
            except PyMongoError as exc:
                log.warning("background maintenance failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    async def refresh(self) -> None:
        """Room types read again (only the rooms kept counts name stay known); the oldest documents too."""
        await self._rooms.refresh(self._room_keys)
        self._oldest.forget()

    def _room_keys(self) -> set[str]:
        """Every key of a room metric that a kept day (closed or open) names."""
        named: set[str] = set()
        for metric in self._metrics.values():
            if metric.keys == "rooms":
                for day in self._closed.of(metric).values():
                    named.update(day.keys)
                named |= self._open.keys_named(metric)
        return named

    async def recount_owed(self) -> None:
        """Days the state database must drop are dropped; dirty days are counted again (the old counts answer
        until the new ones replace them)."""
        for collection in self._ledger.collections_lost():
            await self._recount_lost(collection)
        for metric in self._metrics.values():
            stale = self._ledger.stale(metric)
            if stale:  # kept among the pending days until the state database has dropped them
                await self._source.store.forget(await self._source.id(), metric, stale)
                self._ledger.forgotten(metric, stale)
            dirty = self._ledger.start_recount(metric)
            if dirty:
                await self._source.id()
                token = CALLER.set(CORRECTIONS)
                try:
                    jobs = self._closed.submit(metric, dirty, recount=True)
                finally:
                    CALLER.reset(token)
                done = False
                try:
                    await self._work.wait(jobs, None)
                    done = True
                finally:
                    self._ledger.recounted(metric, dirty, done)

    async def _recount_lost(self, collection: str) -> None:
        """A stream lost its history: every change since its saved position is unknown, so every kept closed day
        of its metrics is counted again (the old counts answer meanwhile). Days only in the state database are
        dropped from it; those of a metric that keeps history are recounted together with what was kept."""
        source, days = await self._source.id(), 0
        for metric in self.metrics_of(collection):
            stored = set(await self._source.store.stored_days(source, metric))
            in_memory = set(self._closed.of(metric))
            if metric.keeps_history:
                self._ledger.owe(metric, stored | in_memory)
            else:
                await self._source.store.forget(source, metric, stored - in_memory)
                self._ledger.owe(metric, in_memory)
            days += len(stored | in_memory)
            self._closed.outdated(metric)  # what was read straight from the source (a room's days) is stale too
        self._ledger.history_restored(collection)
        self.stats["history_recounts"] += days
        log.warning("change stream on %s lost its history: %d kept days are counted again", collection, days)

    # -- the sweep ----------------------------------------------------------------------------------------------
    async def sweeper(self) -> None:
        """Sweep when a deletion asks for it (at most every MIN_SWEEP_GAP_S) or every sweep_seconds."""
        self._sweep_due = time.monotonic() + self._settings.sweep_seconds
        while not self._stopping and not cancelled():
            await asyncio.sleep(1.0)  # a period: deletions are gathered, sweeps spaced
            now = time.monotonic()
            gap = min(MIN_SWEEP_GAP_S, self._settings.sweep_seconds)
            if now >= self._sweep_due and now - self._last_sweep >= gap:
                try:
                    await self.sweep(budget=self._settings.sweep_budget)
                except PyMongoError as exc:
                    log.warning("sweep failed (%s); retrying later", type(exc).__name__)
                    self._sweep_due = time.monotonic() + MIN_SWEEP_GAP_S

    async def sweep(self, budget: int = 0) -> int:
        """Compare every kept closed day's raw count with the index, newest first, and recount the days that
        differ; returns how many. `budget`: at most that many index counts a minute (0: no limit)."""
        self._last_sweep = time.monotonic()
        self._sweep_due = time.monotonic() + self._settings.sweep_seconds
        changed = 0
        for metric in self._metrics.values():
            if metric.keeps_history:
                continue  # its documents' deletions are not changes (sessions' TTL)
            closed = self._closed.of(metric)
            days = sorted(closed, reverse=True)
            # Unlimited: 16 index counts at a time; with a budget, one at a time, spaced to keep within it; without
            # an index on the time field, one scan for every day.
            step = (1 if budget else 16) if metric.time_indexed else max(len(days), 1)
            for i in range(0, len(days), step):
                began = time.monotonic()
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    raw = await self._closed.raw_counts(metric, days[i : i + step], step)
                self.stats["sweep_counts"] += len(raw)
                for day, n in raw.items():
                    kept = closed.get(day)
                    if kept is not None and kept.raw != n:
                        self._ledger.owe(metric, {day})
                        changed += 1
                if budget and i + step < len(days):
                    await asyncio.sleep(max(0.0, 60.0 / budget - (time.monotonic() - began)))  # the budget's pace
        if changed:
            log.info("sweep found %d closed days changed", changed)
            await self.recount_owed()
        return changed


class _ParamListener:
    """Follows the collection a rule's set comes from (users, for the bot users): any change to who matches makes
    the set read again within a second."""

    def __init__(self, corrections: Corrections, source: Source, name: str):
        self._corrections, self._source, self._name = corrections, source, name

    def inserted(self, doc: Document, cluster_time: Timestamp) -> None:
        if rules.matches(PARAM_SOURCES[self._name].rule, doc):
            self._corrections.params_due()

    async def changed(self, doc_id: object) -> None:
        self._corrections.params_due()

    def deleted(self, doc_id: object) -> None:
        if doc_id in self._source.params.get(self._name, ()):
            self._corrections.params_due()

    def reset(self) -> None:
        self._corrections.params_due()

    def history_lost(self) -> None:
        self._corrections.params_due()

    async def flush(self) -> None:
        pass


class _Checkpoint:
    """Where a collection's stream position is kept: with the days it still owes, in one document of the state
    database (see StateStore.save_checkpoint), so that a crash cannot separate the two."""

    def __init__(self, corrections: Corrections, source: Source, ledger: Ledger, collection: str):
        self._corrections, self._source, self._ledger, self._collection = corrections, source, ledger, collection

    def _pending(self) -> dict[str, set[int]]:
        return {m.name: self._ledger.pending(m) for m in self._corrections.metrics_of(self._collection)}

    async def load(self) -> ResumeToken | None:
        saved = await self._source.store.load_checkpoint(await self._source.id(), self._collection)
        if saved is None:
            return None
        for metric in self._corrections.metrics_of(self._collection):
            self._ledger.owe(metric, saved["pending"].get(metric.name, ()))
        if saved["lost"]:
            self._corrections.history_lost(self._collection)
        return saved["token"]

    async def save(self, token: ResumeToken) -> None:
        await self._source.store.save_checkpoint(
            await self._source.id(),
            self._collection,
            token,
            self._pending(),
            lost=self._ledger.history_lost(self._collection),
        )


class _Listener:
    """The corrections' side of one collection's change stream."""

    def __init__(self, corrections: Corrections, collection: str):
        self._corrections, self._collection = corrections, collection

    def inserted(self, doc: Document, cluster_time: Timestamp) -> None:
        self._corrections.inserted(self._collection, doc, cluster_time)

    async def changed(self, doc_id: object) -> None:
        await self._corrections.changed(self._collection, doc_id)

    def deleted(self, doc_id: object) -> None:
        self._corrections.deleted(self._collection)

    def reset(self) -> None:
        self._corrections.reset(self._collection)

    def history_lost(self) -> None:
        self._corrections.history_lost(self._collection)

    async def flush(self) -> None:
        await self._corrections.flush(self._collection)

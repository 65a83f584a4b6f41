"""Open days (today, and yesterday during the grace): counted at a snapshot, then followed by the change stream.

A metric's open days are counted at a cluster time, and every insert the stream delivers after it is added, so an
answer about today costs no read. Without the stream (or for days after today) they are counted directly and
reused for at most `freshness_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any

import pymongo
from bson import Timestamp

from engagement_svc.counting import counter, rules
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.classes import Classes
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.kept import ClosedDay, OpenDay
from engagement_svc.counting.slots import SLOTS_PER_DAY, slot_of
from engagement_svc.counting.source import Source
from engagement_svc.counting.work import BACKGROUND_TIMEOUT_S, Busy, Work
from engagement_svc.rocketchat.changes import Watcher, operation_time

TRACK_TIMEOUT_S = 120  # a snapshot read must finish well inside MongoDB's snapshot history (300 s by default)
RESNAPSHOT_S = 1.0  # open days are counted again after deletions at most this often
# A scoped read's open days are followed this long after it asked: counting every room's open days (and looking up
# their rooms) meanwhile would compete for the event loop and MongoDB with the answer it is about to give.
FOLLOW_SOON_S = 0.5


class Tracker:
    """A metric's open days as of cluster time `since`, plus every insert the stream delivered after it."""

    def __init__(self, since: Timestamp, days: dict[int, OpenDay]):
        self.since = since
        self.days = days

    def begin(self, key: str, first: int, bound: int) -> None:
        """An open interval from slot `first` (cut at `bound`) in every tracked day it may reach."""
        for day, view in self.days.items():
            base = day * SLOTS_PER_DAY
            if first < base + SLOTS_PER_DAY and bound > base:
                view.begin(key, max(first - base, 0), min(bound - base, SLOTS_PER_DAY))

    def add(self, metric: Metric, doc: Mapping[str, Any], params: rules.Params, classes: Classes) -> None:
        """A document inserted after `since`, added to the day and slot it falls in (an interval: every slot)."""
        key = metric.key_of(doc, params)
        if key is None or not rules.matches(metric.rule, doc, params):
            return
        if metric.is_interval:
            interval = counter.interval_of(metric, doc)
            if interval is None:
                return
            first, end, bound = interval
            if end is None:
                self.begin(key, first, bound)
                return
            for slot in range(first, min(end, bound)):
                day = self.days.get(slot // SLOTS_PER_DAY)
                if day is not None:
                    day.add(key, slot % SLOTS_PER_DAY, classes)
            return
        t = rules.value(doc, metric.time_field)
        if isinstance(t, datetime):
            slot = slot_of(t)
            day = self.days.get(slot // SLOTS_PER_DAY)
            if day is not None:
                day.add(key, slot % SLOTS_PER_DAY, classes)


View = ClosedDay | OpenDay
# What open days' counts depend on: (day, version) per tracked day, and the slot of now while intervals are open.
Versions = tuple[tuple[int, int] | int, ...]


class OpenDays:
    def __init__(
        self,
        source: Source,
        work: Work,
        clock: DayClock,
        classes: Callable[[Metric], Classes],
        watchers: Mapping[str, Watcher],
        freshness_ms: int,
    ):
        self._source, self._work, self._clock, self._classes = source, work, clock, classes
        self._watchers = watchers
        self._freshness_s = freshness_ms / 1000
        self._trackers: dict[str, Tracker] = {}
        self._resnapshot: set[str] = set()  # collections whose open days are counted again at the next flush
        self._last_resnapshot: dict[str, float] = {}
        self.stats = {"open_live": 0, "open_tracked": 0}

    async def views(self, metric: Metric, days: list[int], now: datetime) -> dict[int, View]:
        """What each open day's counts are read from: the tracker while the stream is followed, else counted."""
        today = self._clock.today(now)
        tracked = [d for d in days if d <= today]  # days after today (future timestamps) are counted directly
        if tracked and not self.following(metric, tracked):
            await self.follow(metric, now)
        views: dict[int, View] = {}
        tracker = self._trackers.get(metric.name)
        if tracker is not None and self.following(metric, tracked):
            self.stats["open_tracked"] += 1
            views.update({d: tracker.days[d] for d in tracked})
            classes = self._classes(metric)
            pending = {d: list(tracker.days[d].pending_keys()) for d in tracked}
            unknown = {k for keys in pending.values() for k in keys if not classes.knows(k)}
            if unknown:
                await classes.ensure(unknown)
            for d, keys in pending.items():
                if keys:
                    tracker.days[d].looked_up(keys, classes)
        live = [d for d in days if d not in views]
        if live:
            # Without the change stream (or for future days), counted directly; shared and reused briefly.
            self.stats["open_live"] += 1
            counted = await self._work.shared(
                ("live", metric.name, tuple(live)), lambda: self._count_live(metric, live), self._freshness_s
            )
            views.update(counted)
        return views

    async def follow(self, metric: Metric, now: datetime, wait: bool = True) -> None:
        """The metric's open days counted at a snapshot and followed from then on, if the stream is up and they
        are not yet (shared by concurrent callers); the first read of them starts it, or a report that wants a
        stamp before it reads. Without `wait`, started in the background (see `follow_soon`)."""
        if not wait:
            self.follow_soon(metric, now)
            return
        open_now = self._clock.open_days(now)
        if self._watchers[metric.collection].healthy and not self.following(metric, open_now):
            await self._work.shared(("track", metric.name, tuple(open_now)), lambda: self.track(metric, open_now))

    def following(self, metric: Metric, days: list[int]) -> bool:
        """Whether these open days are read from the stream's tracker now (no count needed to read them)."""
        tracker = self._trackers.get(metric.name)
        healthy = self._watchers[metric.collection].healthy
        return healthy and tracker is not None and all(d in tracker.days for d in days)

    def follow_soon(self, metric: Metric, now: datetime) -> None:
        """`follow` in the background, shortly (FOLLOW_SOON_S): a read of a few rooms need not wait for every
        room's open days counted."""
        watcher = self._watchers[metric.collection]
        if not self._work.stopping and watcher.healthy and not self.following(metric, self._clock.open_days(now)):
            with contextlib.suppress(Busy):  # too much running: a later read asks again
                self._work.shared(("follow soon", metric.name), lambda: self._follow_after(metric, FOLLOW_SOON_S))

    async def _follow_after(self, metric: Metric, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.follow(metric, self._clock.now())

    async def _count_live(self, metric: Metric, days: list[int]) -> dict[int, ClosedDay]:
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            counted = await counter.count_days(self._source.db, metric, days, self._source.params)
            await self._classes(metric).ensure(k for c in counted.values() for k in c.keys)
            return counted

    async def track(self, metric: Metric, days: list[int]) -> None:
        """Count these open days at a snapshot, replay what the stream delivered since, and keep them."""
        watcher = self._watchers[metric.collection]
        db, params = self._source.db, self._source.params
        with pymongo.timeout(TRACK_TIMEOUT_S):
            for _ in range(3):
                if not watcher.running:
                    return
                since = await operation_time(db)
                found = await counter.count_at(db, metric, days, since, params)
                ongoing = await counter.ongoing_at(db, metric, days, since, params) if metric.is_interval else []
                # From here to the end nothing awaits: the replay and the swap see exactly what the stream applied.
                replay = watcher.replay_after(since)
                if replay is None or not watcher.running:
                    continue  # the log no longer reaches back to the snapshot; take a newer one
                tracker = Tracker(since, {d: OpenDay(d, found.get(d, ({}, 0))[0]) for d in days})
                for key, first, bound in ongoing:
                    tracker.begin(key, first, bound)
                classes = self._classes(metric)
                for doc in replay:
                    tracker.add(metric, doc, self._source.params, classes)
                self._trackers[metric.name] = tracker
                return

    def inserted(self, metric: Metric, doc: Mapping[str, Any], cluster_time: Timestamp) -> None:
        tracker = self._trackers.get(metric.name)
        if tracker is not None and cluster_time > tracker.since:
            tracker.add(metric, doc, self._source.params, self._classes(metric))

    def forget(self, metric: Metric) -> None:
        """The stream restarted without its history: the open days are counted at a new snapshot when asked."""
        self._trackers.pop(metric.name, None)

    def count_again(self, collection: str) -> None:
        """A deletion or change the tracker cannot apply: its open days are counted again at the next flush."""
        self._resnapshot.add(collection)

    async def flush(self, collection: str, metrics: list[Metric]) -> None:
        if (
            collection in self._resnapshot
            and time.monotonic() - self._last_resnapshot.get(collection, 0) >= RESNAPSHOT_S
        ):
            self._resnapshot.discard(collection)
            self._last_resnapshot[collection] = time.monotonic()
            for metric in metrics:
                tracker = self._trackers.get(metric.name)
                if tracker is not None:
                    await self.track(metric, sorted(tracker.days))

    def stamp(self, metric: Metric, now: datetime) -> tuple[Timestamp, Versions] | None:
        """What the open days' counts depend on while the stream is followed (None when it cannot be told): the
        snapshot (a new one starts its days' versions again) and each day's version; open intervals grow with
        every slot. None too while some open day is not tracked (after a midnight, until the next `follow`): a
        message of that day moves no version, and a read of a few rooms counts it without following it."""
        tracker = self._trackers.get(metric.name)
        if tracker is None or not self.following(metric, self._clock.open_days(now)):
            return None
        opened: Versions = tuple((d, v.version) for d, v in sorted(tracker.days.items()))
        if any(v.ongoing for v in tracker.days.values()):
            opened += (slot_of(now),)
        return tracker.since, opened

    def changed_since(
        self, metric: Metric, then: tuple[Hashable, ...] | None, now: tuple[Hashable, ...] | None
    ) -> set[str] | None:
        """The open days' keys counted since the engine's stamp `then`, when nothing else changed (`now`, the stamp
        now, equals it but for the open days' versions): a report that keeps what it derived from them reads only
        those keys again. None when that cannot be told: the kept days, the classes, the day, the snapshot or the
        days tracked changed, open intervals grow with the clock, or the stream is not followed."""
        tracker = self._trackers.get(metric.name)
        if then is None or now is None or tracker is None or then[:-1] != now[:-1]:
            return None
        opened = then[-1]
        if not isinstance(opened, tuple) or not all(isinstance(v, tuple) for v in opened):
            return None
        if [v[0] for v in opened] != sorted(tracker.days):
            return None
        changed: set[str] = set()
        for day, version in opened:
            changed.update(tracker.days[day].changed_since(version))
        return changed

    def keys_named(self, metric: Metric) -> set[str]:
        """Every key the tracked open days name."""
        tracker = self._trackers.get(metric.name)
        return {key for view in tracker.days.values() for key in view.cells} if tracker is not None else set()

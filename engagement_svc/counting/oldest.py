"""The oldest document's time per metric: days before it are empty without being counted or kept."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

import pymongo

from engagement_svc.counting import counter
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.slots import utc_day_start
from engagement_svc.counting.source import Source
from engagement_svc.counting.work import BACKGROUND_TIMEOUT_S, Work

REFRESH_S = 600  # read again this often (room types too: corrections) while the change stream is followed


class KeptDays(Protocol):
    """The kept closed days (counting/closed_days.py's `ClosedDays`), as far as the oldest time goes."""

    def of(self, metric: Metric) -> Mapping[int, object]: ...

    def outdated(self, metric: Metric) -> None: ...


class Oldest:
    def __init__(
        self, source: Source, work: Work, healthy: Callable[[Metric], bool], kept: KeptDays, freshness_ms: int
    ):
        """`kept`: told when the oldest time moves back (what read the days before it as empty is stale)."""
        self._source, self._work, self._healthy, self._kept = source, work, healthy, kept
        self._freshness_s = freshness_ms / 1000
        self._read: dict[str, tuple[float, datetime | None]] = {}  # metric -> (read at, oldest time)
        self._last: dict[str, datetime | None] = {}  # metric -> the oldest time last read (never dropped)

    async def earliest(self, metric: Metric) -> datetime | None:
        """Read at most every REFRESH_S while the change stream shows older inserts, else reused for at most
        freshness_ms."""
        known = self._read.get(metric.name)
        fresh_for = REFRESH_S if self._healthy(metric) else self._freshness_s
        if known is None or time.monotonic() - known[0] > fresh_for:
            oldest = await self._work.shared(("earliest", metric.name), lambda: self._read_oldest(metric))
            before = self._last.get(metric.name)
            self._read[metric.name] = known = (time.monotonic(), oldest)
            self._last[metric.name] = oldest  # kept when the reading above is dropped, for the progress
            if oldest is not None and before is not None and oldest < before:
                self._kept.outdated(metric)  # a document's time moved earlier (an update), or one came unseen
        return known[1]

    def last_read(self, metric: Metric) -> datetime | None:
        return self._last.get(metric.name)

    def inserted(self, metric: Metric, t: datetime) -> None:
        """A document of this time was inserted: an older one than known moves the oldest time back."""
        known = self._read.get(metric.name)
        if known is not None and (known[1] is None or t < known[1]):
            self._read[metric.name] = (known[0], t)
            self._last[metric.name] = t  # what it replaced is stale already: corrections outdate a day not kept

    def forget(self) -> None:
        """Read every metric's oldest time again when next asked (deletions are not followed)."""
        self._read.clear()

    async def _read_oldest(self, metric: Metric) -> datetime | None:
        """The oldest document's time; for a metric that keeps history, or the oldest kept day's start."""
        with pymongo.timeout(BACKGROUND_TIMEOUT_S):
            oldest = await counter.earliest(self._source.db, metric)
            if metric.keeps_history:
                stored = await self._source.store.oldest_day(await self._source.id(), metric)
                kept = [*self._kept.of(metric), *([] if stored is None else [stored])]
                if kept:
                    first = utc_day_start(min(kept))
                    oldest = first if oldest is None else min(oldest, first)
            return oldest

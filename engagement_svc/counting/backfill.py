"""The start-up backfill: every closed day of every metric (the last `warm_days`, by default all) counted in the
background, newest first and after any request's counting, without delaying readiness; and its progress."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

import pymongo
from pymongo.errors import PyMongoError

from engagement_svc import memory
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.closed_days import BACKGROUND_CHUNK_DAYS, ClosedDays
from engagement_svc.counting.oldest import Oldest
from engagement_svc.counting.slots import utc_day_of
from engagement_svc.counting.source import Source
from engagement_svc.counting.work import BACKGROUND_TIMEOUT_S, Work
from engagement_svc.tasks import cancelled

PRIOR_SECONDS_PER_DOCUMENT = 2e-5  # counting one document on one worker, before any day is measured
RETRY_S = 5.0


class Backfill:
    def __init__(
        self,
        metrics: Mapping[str, Metric],
        source: Source,
        clock: DayClock,
        closed: ClosedDays,
        oldest: Oldest,
        work: Work,
        warm_days: int,
    ):
        self._metrics = {name: metric for name, metric in metrics.items() if metric.backfilled}
        self._source, self._clock, self._closed = source, clock, closed
        self._oldest, self._work, self._warm_days = oldest, work, warm_days
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    def _first(self, metric: Metric, now: datetime) -> int | None:
        """The first UTC day the backfill counts of this metric (None: its oldest document is not known yet, or
        there is none)."""
        oldest = self._oldest.last_read(metric)
        if oldest is None or self._warm_days <= 0:
            return None
        return max(utc_day_of(oldest), self._clock.today(now) - self._warm_days - 1)

    def progress(self) -> dict[str, int | None]:
        """Closed days counted (or read back) so far, days left, and about how long the rest takes at the
        measured rate (None before anything is known)."""
        now = self._clock.now()
        first_open = self._clock.first_open_day(now)
        counted = left = 0
        for metric in self._metrics.values():
            first = self._first(metric, now)
            if first is None:
                continue
            have = sum(1 for d in self._closed.of(metric) if first <= d < first_open)
            counted, left = counted + have, left + max(0, first_open - first - have)
        cost, jobs = self._work.cost, -(-left // BACKGROUND_CHUNK_DAYS)
        seconds = None if cost.parts() is None else round(cost.seconds(left, jobs) / self._work.background_workers)
        return {"days_counted": counted, "days_left": left, "seconds_left": seconds}

    async def _guess_rate(self) -> None:
        """Before any day is counted, the time a day takes is guessed from the collections' sizes (documents per
        day x PRIOR_SECONDS_PER_DOCUMENT), so that the first request that needs years is told at once."""
        now, per_day = self._clock.now(), 0.0
        for metric in self._metrics.values():
            oldest = await self._oldest.earliest(metric)
            if oldest is not None:
                documents = await self._source.db[metric.collection].estimated_document_count()
                per_day = max(per_day, documents / max(1, self._clock.first_open_day(now) - utc_day_of(oldest)))
        self._work.cost.prior_per_unit = per_day * PRIOR_SECONDS_PER_DOCUMENT or None

    async def run(self) -> None:
        while not self._stopping and not cancelled():
            try:
                with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                    await self._guess_rate()
                break
            except PyMongoError:
                await asyncio.sleep(RETRY_S)
        if self._warm_days <= 0:
            return
        for metric in self._metrics.values():
            while not self._stopping and not cancelled():
                try:
                    now = self._clock.now()
                    with pymongo.timeout(BACKGROUND_TIMEOUT_S):
                        await self._oldest.earliest(metric)
                        await self._source.id()
                    first = self._first(metric, now)
                    if first is None:
                        break
                    kept = self._closed.of(metric)
                    todo = [d for d in range(first, self._clock.first_open_day(now)) if d not in kept]
                    await self._work.wait(self._closed.submit(metric, todo), None)
                    break
                except PyMongoError:
                    await asyncio.sleep(RETRY_S)
        memory.trim()  # the backfill's decoded results, freed, back to the system

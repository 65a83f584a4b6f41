"""Answers derived from counts, remembered by the engine while the counts stay the same (see `Counts.stamp`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from engagement_svc.counting.catalog import Metric
from engagement_svc.reports.sources import Counts

T = TypeVar("T")


async def remembered(counts: Counts, metric: Metric, key: tuple, compute: Callable[[], Awaitable[T]]) -> T:
    """The answer remembered under `key` while the metric's counts are unchanged; else `compute`d (and kept)."""
    stamp = counts.stamp(metric)
    found = counts.remembered(key, stamp)
    if found is None:
        found = await compute()
        counts.remember(key, stamp, found)
    return found

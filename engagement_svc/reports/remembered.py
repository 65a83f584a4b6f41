"""Answers derived from counts, remembered by the engine while the counts stay the same (see `Counts.stamp`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from engagement_svc.counting.catalog import Metric
from engagement_svc.reports.sources import Counts, Key

T = TypeVar("T")


async def remembered(counts: Counts, metric: Metric, key: Key, compute: Callable[[], Awaitable[T]]) -> T:
    """The answer remembered under `key` while the metric's counts are unchanged; else `compute`d (and kept)."""
    stamp = counts.stamp(metric)
    found = counts.remembered(key, stamp)
    if found is not None:
        # The engine keeps the answers of every report in one store, as objects. A key names one report and one
        # part of its answer (see `Report.key`), and only this `compute` of that part is ever kept under it: a T.
        return cast(T, found)
    value = await compute()
    counts.remember(key, stamp, value)
    return value

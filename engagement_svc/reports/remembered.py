"""Answers derived from counts, remembered by the engine while the counts stay the same (see `Counts.stamp`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, cast

from engagement_svc.counting.catalog import Metric
from engagement_svc.reports.sources import Counts, Key

T = TypeVar("T")


async def remembered(
    counts: Counts,
    metric: Metric,
    key: Key,
    compute: Callable[[], Awaitable[T]],
    depends: tuple[Hashable | None, ...] = (),
) -> T:
    """The answer remembered under `key` while the metric's counts are unchanged (and what else it `depends` on:
    the rooms, for a team's answer; None: cannot be told); else `compute`d (and kept)."""
    stamp = counts.stamp(metric)
    if stamp is not None and depends:
        stamp = None if any(d is None for d in depends) else (*stamp, *depends)
    found = counts.remembered(key, stamp)
    if found is not None:
        # The engine keeps the answers of every report in one store, as objects. A key names one report and one
        # part of its answer (see `Report.key`), and only this `compute` of that part is ever kept under it: a T.
        return cast(T, found)
    value = await compute()
    counts.remember(key, stamp, value)
    return value

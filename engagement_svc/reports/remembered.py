"""Answers derived from counts, remembered by the engine while the counts stay the same (see `Counts.stamp`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, time, timedelta
from typing import TypeVar, cast

from engagement_svc.counting.catalog import Metric
from engagement_svc.reports.queries import RangeQuery
from engagement_svc.reports.sources import Counts, Key, Stamp

T = TypeVar("T")


async def remembered(
    counts: Counts,
    metric: Metric,
    key: Key,
    compute: Callable[[], Awaitable[T]],
    depends: tuple[Hashable | None, ...] = (),
    q: RangeQuery | None = None,
    wait: bool = True,
) -> T:
    """The answer remembered under `key` while the metric's counts are unchanged (and what else it `depends` on:
    the rooms, for a team's answer; None: cannot be told); else `compute`d (and kept). Given the query, the
    metric's open days are followed first if its range reaches them (see `followed`; `wait`)."""
    stamp = counts.stamp(metric) if q is None else await followed(counts, metric, q, wait)
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


def reaches_open(counts: Counts, metric: Metric, q: RangeQuery) -> bool:
    """Whether the range's last local day ends after the metric's open days begin: its answer reads them."""
    open_s, _ = counts.open_edge(metric)
    return datetime.combine(q.last_day + timedelta(days=1), time(), q.zone).timestamp() > open_s


async def followed(counts: Counts, metric: Metric, q: RangeQuery, wait: bool = True) -> Stamp | None:
    """The metric's stamp. It has none while its open days are not followed (the detail metrics' until one of
    their reports reads them): if the range reaches them, they are followed first, so that the answer read next
    is kept (a year's people posting at big-server size takes seconds to make again); if it does not, what its
    answer depends on is the closed days alone. Without `wait` (an answer about a few rooms: a room's, a team's,
    which reads their open days alone), they are followed in the background and this answer is not kept: counting
    every room's open days first would cost it more than its own read."""
    stamp = counts.stamp(metric)
    if stamp is None:
        stamp = await counts.follow(metric, wait) if reaches_open(counts, metric, q) else counts.stamp(metric, False)
    return stamp

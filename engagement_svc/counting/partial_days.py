"""Partial days: a closed day not kept, counted for a few rooms alone (a room's story, a team's list).

Counting a whole day counts every room's documents of that day; a read of one room's year would count the whole
server's year, and keep it. A partial day holds only the rooms asked for, from one aggregation bounded by
Rocket.Chat's `{rid, ts}` index (the one a user would write for the same answer), and is remembered in the
reader's bounded cache until the metric's kept days change (a change, a deletion or a restarted stream changes them
too). Every
metric of the same documents (a room's messages and its posts) is counted by the same aggregation, for the reads
that follow it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting import counter, rules
from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.closed_days import detail_weight
from engagement_svc.counting.combining import ENTRY_BYTES
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.counting.slots import SLOT_MS, SLOTS_PER_DAY, utc_day_start
from engagement_svc.counting.source import Source
from engagement_svc.mongo_types import Database


async def count_rooms(
    db: Database, metrics: list[Metric], rooms: frozenset[str], days: list[int], params: rules.Params = rules.NO_PARAMS
) -> dict[str, dict[int, ClosedDay]]:
    """These rooms' documents of these UTC days alone, counted per key and slot for each of `metrics` (of one
    collection, time field and rule, keyed by room): per metric and day, a partial day that answers these rooms'
    keys only. One aggregation, bounded by the `{room, time}` index as a user's own would be, instead of counting
    every room's documents of each day (a room's story, a team's list, when their days are not kept)."""
    first = metrics[0]
    wanted = set(days)
    runs = counter.day_runs(days)
    # One range from the first day to the last (days kept between them are read and left out): the index bounds
    # it by room and time, where a range per run of days would let the planner pick the time index alone.
    match = {
        "$and": [
            {first.key_field: {"$in": sorted(rooms)}},
            {first.time_field: {"$gte": utc_day_start(runs[0][0]), "$lt": utc_day_start(runs[-1][1])}},
            rules.as_query(first.rule, params),
        ]
    }
    keys = {str(i): m.key_expression(params) for i, m in enumerate(metrics)}
    cursor = await db[first.collection].aggregate(
        [{"$match": match}, {"$group": {"_id": {"s": counter.number_of(first, SLOT_MS), **keys}, "n": {"$sum": 1}}}]
    )
    cells: list[dict[int, counter.Cells]] = [{} for _ in metrics]
    async for doc in cursor:
        day, slot = divmod(int(doc["_id"]["s"]), SLOTS_PER_DAY)
        if day not in wanted:
            continue
        for i, of_metric in enumerate(cells):
            key = doc["_id"].get(str(i))
            if isinstance(key, str):
                of_day = of_metric.setdefault(day, {})
                of_day[(key, slot)] = of_day.get((key, slot), 0) + doc["n"]
    return {m.name: {d: ClosedDay.of_cells(d, cells[i].get(d, {}), 0) for d in days} for i, m in enumerate(metrics)}


class PartialDays:
    def __init__(
        self,
        source: Source,
        cache: BoundedCache[tuple[Hashable, ...], object],
        version: Callable[[Metric], Hashable],
        metrics: Mapping[str, Metric],
        stats: dict[str, int],
    ):
        """`cache`, `version`: the reader's bounded cache and what its entries are checked against; `metrics`:
        those one aggregation may count together; `stats`: the reader's, where the days counted are added up."""
        self._source, self._cache, self._version, self._metrics = source, cache, version, metrics
        self.stats = stats

    def siblings(self, metric: Metric) -> list[Metric]:
        """The metrics counted from the same documents by room (the metric itself among them)."""
        same = (metric.collection, metric.time_field, metric.key_field, metric.rule, "rooms")
        found = [
            m
            for m in self._metrics.values()
            if (m.collection, m.time_field, m.key_field, m.rule, m.keys) == same and not m.is_interval
        ]
        return found if metric in found else [metric]

    async def now(self, metric: Metric, rooms: frozenset[str], days: list[int]) -> dict[int, ClosedDay]:
        """These days of `metric` for these rooms alone as they are now, kept nowhere: open days that are not
        followed yet (their counts change with every message)."""
        await self._source.id()
        counted = await count_rooms(self._source.db, [metric], rooms, days, self._source.params)
        self.stats["partial_days"] += len(days)
        return counted[metric.name]

    async def of(self, metric: Metric, rooms: frozenset[str], days: list[int]) -> dict[int, ClosedDay]:
        """These closed UTC days of `metric` (keyed by room, not an interval one), for these rooms alone."""
        found: dict[int, ClosedDay] = {}
        todo: list[int] = []
        for day in days:
            hit = self._cache.get(("partial", metric.name, rooms, day), self._version(metric))
            if isinstance(hit, ClosedDay):
                found[day] = hit
            else:
                todo.append(day)
        if not todo:
            return found
        await self._source.id()
        siblings = self.siblings(metric)
        versions = {m.name: self._version(m) for m in siblings}  # as of before the count
        counted = await count_rooms(self._source.db, siblings, rooms, todo, self._source.params)
        self.stats["partial_days"] += len(todo)
        for m in siblings:
            if self._version(m) != versions[m.name]:
                continue  # changed while counted: not remembered (a newer count may be already)
            for day, partial in counted[m.name].items():
                weight = ENTRY_BYTES + detail_weight(partial)
                self._cache.put(("partial", m.name, rooms, day), partial, versions[m.name], weight)
        found.update(counted[metric.name])
        return found

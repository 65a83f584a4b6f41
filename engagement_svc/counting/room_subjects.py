"""Per room, its different subjects (authors) in a span: a channel list's posters, and the authors a room had.

Summed from kept days, these read every (room, author) key of the span: about one per message, millions in a year of
a big server, all in memory at once. One aggregation shaped like the one a user would write for the same answer
(messages grouped by room and author) gives instead, per room and author, whether the author has a message not
flagged (a person's) and one flagged (a bot's), so that every bots choice is answered from it; the room's type is
applied when read, as for kept counts. A closed span's counts per room are remembered in the reader's bounded cache
until the metric's kept days change (a change to a closed day, kept or not, a deletion or a restarted stream
changes them); a span that reaches the open days is read afresh each time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting import rules
from engagement_svc.counting.catalog import FLAG, Metric
from engagement_svc.counting.classes import Classes
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.combining import ENTRY_BYTES
from engagement_svc.counting.slots import SLOT_SECONDS, SLOTS_PER_DAY, Span
from engagement_svc.counting.source import Source
from engagement_svc.mongo_types import Database, Document, Pipeline

Authors = dict[str, tuple[int, int, int]]  # per room: its authors with any document, an unflagged one, a flagged one
PER_ROOM_BYTES = 120  # about what one room's three counts hold in the cache


def pairs_pipeline(
    metric: Metric,
    span: Span,
    params: rules.Params,
    rooms: frozenset[str] | None,
    among: frozenset[str] | None = None,
) -> Pipeline:
    """Per (room, subject) with a counted document in [span.lo, span.hi) (of these rooms, these subjects): `f`,
    whether one is flagged, and `p`, whether all are (for a metric without a flag, none is)."""
    assert metric.second is not None
    flagged = rules.as_expression(metric.flag[1], params) if metric.flag is not None else False
    match = [
        {metric.time_field: {"$gte": span.lo, "$lt": span.hi}},
        {metric.key_field: {"$type": "string"} if rooms is None else {"$in": sorted(rooms)}},
        {metric.second.field: {"$type": "string"} if among is None else {"$in": sorted(among)}},
        rules.as_query(metric.rule, params),
    ]
    return [
        {"$match": {"$and": match}},
        {
            "$group": {
                "_id": {"r": "$" + metric.key_field, "a": "$" + metric.second.field},
                "f": {"$max": flagged},
                "p": {"$min": flagged},
            }
        },
    ]


async def count_room_subjects(db: Database, metric: Metric, span: Span, params: rules.Params) -> Authors:
    """Per room with anything counted in the span: its subjects, those with an unflagged document, those with a
    flagged one."""
    per_room: Document = {
        "$group": {
            "_id": "$_id.r",
            "n": {"$sum": 1},
            "p": {"$sum": {"$cond": ["$p", 0, 1]}},  # not all flagged: one of them a person's
            "f": {"$sum": {"$cond": ["$f", 1, 0]}},
        }
    }
    cursor = await db[metric.collection].aggregate([*pairs_pipeline(metric, span, params, None), per_room])
    return {doc["_id"]: (doc["n"], doc["p"], doc["f"]) async for doc in cursor}


class RoomSubjects:
    def __init__(
        self,
        source: Source,
        clock: DayClock,
        cache: BoundedCache[tuple[Hashable, ...], object],
        version: Callable[[Metric], Hashable],
        classes: Callable[[Metric], Classes],
    ):
        """`cache`, `version`: the reader's bounded cache and what its entries are checked against."""
        self._source, self._clock, self._cache, self._version, self._classes = source, clock, cache, version, classes

    def _counts(self, metric: Metric, rid: str, counted: tuple[str, ...]) -> tuple[bool, bool]:
        """Whether a room's unflagged documents count, and whether its flagged ones do (its type, bots choice)."""
        classes = self._classes(metric)
        marked = metric.flag is not None and classes.kind(rid + FLAG + metric.flag[0]) in counted
        return classes.kind(rid) in counted, marked

    async def counts(
        self, metric: Metric, span: Span, counted: tuple[str, ...], rooms: frozenset[str] | None = None
    ) -> dict[str, int]:
        """Per room whose documents count (of these rooms alone, when given), its different subjects in the span;
        a room with none is left out."""
        if rooms is not None:  # a team's: read for its rooms alone, not remembered (the list keeping it is)
            return {rid: len(found) for rid, found in (await self.sets(metric, span, counted, rooms)).items() if found}
        closed = span.hi_s <= self._clock.first_open_day() * SLOTS_PER_DAY * SLOT_SECONDS
        key = ("room-subjects", metric.name, span.lo_s, span.hi_s)
        version = self._version(metric)  # as of before the count
        found = self._cache.get(key, version) if closed else None
        if not isinstance(found, dict):
            await self._source.id()
            found = await count_room_subjects(self._source.db, metric, span, self._source.params)
            if closed and self._version(metric) == version:  # not changed while counted
                self._cache.put(key, found, version, ENTRY_BYTES + PER_ROOM_BYTES * len(found))
        await self._classes(metric).ensure(found)
        out: dict[str, int] = {}
        for rid, (anyone, people, bots) in found.items():
            plain, marked = self._counts(metric, rid, counted)
            n = anyone if plain and marked else people if plain else bots if marked else 0
            if n:
                out[rid] = n
        return out

    async def sets(
        self,
        metric: Metric,
        span: Span,
        counted: tuple[str, ...],
        rooms: frozenset[str],
        among: frozenset[str] | None = None,
    ) -> dict[str, frozenset[str]]:
        """Per room of these, its subjects (of `among` alone, when given) in the span whose documents count (a room
        with none: an empty set)."""
        await self._source.id()
        pipeline = pairs_pipeline(metric, span, self._source.params, rooms, among)
        found: dict[str, list[str]] = {rid: [] for rid in rooms}
        await self._classes(metric).ensure(rooms)
        cursor = await self._source.db[metric.collection].aggregate(pipeline)
        async for doc in cursor:
            rid, subject = doc["_id"]["r"], doc["_id"]["a"]
            plain, marked = self._counts(metric, rid, counted)
            if (plain and not doc["p"]) or (marked and doc["f"]):
                found[rid].append(subject)
        return {rid: frozenset(subjects) for rid, subjects in found.items()}

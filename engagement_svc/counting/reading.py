"""Reading kept counts: a zone's local days and hours are runs of 15-minute UTC slots, answered from the days'
running sums, remembered per run of slots (every zone whose day has the same edges shares it).

The read API is typed: sums, sums by class, sums by key, distinct keys and the key lists, each with its own call.
What is remembered lives in one bounded cache, checked against the kept days' version and the key classes'
generation; a per-slot index of a closed day (for distinct keys in part of a day) in a second one.
"""

from __future__ import annotations

import asyncio
import weakref
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Literal, cast, overload

from engagement_svc.bounded_cache import BoundedCache
from engagement_svc.counting import counter
from engagement_svc.counting.catalog import Metric, subjects, unflagged
from engagement_svc.counting.classes import Classes
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.closed_days import ClosedDays
from engagement_svc.counting.combining import ENTRY_BYTES, PER_KEY_BYTES, SUM_BYTES, merged, presence_of, weight
from engagement_svc.counting.kept import ClosedDay, OpenDay
from engagement_svc.counting.oldest import Oldest
from engagement_svc.counting.open_days import OpenDays, View
from engagement_svc.counting.partial_days import PartialDays
from engagement_svc.counting.room_subjects import RoomSubjects
from engagement_svc.counting.running_sums import Answer, RunningSums
from engagement_svc.counting.slots import SLOT_SECONDS, SLOTS_PER_DAY, Span, Spans, span_of_seconds, utc_day_of
from engagement_svc.counting.source import Source
from engagement_svc.rocketchat.rooms import room_of

Mode = Literal["sum", "class", "key", "distinct", "keys"]
Rooms = frozenset[str] | None  # a read of these rooms' keys alone (None: every key)
YIELD_SPANS = 8  # distinct users of this many spans computed between two turns of the event loop
YIELD_DAYS = 8  # days of per-key sums added up between two (a year of a big server's keys: seconds in one go)
READ_CACHE_BYTES = 96 * 2**20  # remembered sums, key sums and key sets of closed spans, about
READ_CACHE_ENTRIES = 200_000
SLOT_INDEX_BYTES = 8 * 2**20  # closed days' per-slot indexes kept, about (a year by hour would keep every day's)


def _parts(views: Mapping[int, View], first: int, end: int) -> Iterator[tuple[View, int, int]]:
    """The UTC days a run of slots [first, end) touches, each with the run's slots within that day."""
    for day in range(first // SLOTS_PER_DAY, (end - 1) // SLOTS_PER_DAY + 1):
        view = views.get(day)
        if view is not None:
            base = day * SLOTS_PER_DAY
            yield view, max(first - base, 0), min(end - base, SLOTS_PER_DAY)


def _counts(kind: str | None, counted: tuple[str, ...] | None) -> bool:
    """A key of this class counts: any class when `counted` is None."""
    return kind is not None and (counted is None or kind in counted)


class Reader:
    def __init__(
        self,
        source: Source,
        clock: DayClock,
        closed: ClosedDays,
        open_days: OpenDays,
        oldest: Oldest,
        classes: Callable[[Metric], Classes],
        metrics: Mapping[str, Metric] | None = None,
    ):
        """`metrics`: those a scoped read may count together (see counting/partial_days.py)."""
        self._source, self._clock, self._closed, self._open = source, clock, closed, open_days
        self._oldest, self._classes = oldest, classes
        self.cache: BoundedCache[tuple[Hashable, ...], object] = BoundedCache(
            "reading", READ_CACHE_ENTRIES, READ_CACHE_BYTES
        )
        self.slot_indexes: BoundedCache[tuple[str, int], tuple[weakref.ref[ClosedDay], list[array[int]]]] = (
            BoundedCache("slot_indexes", 1_000_000, SLOT_INDEX_BYTES)
        )
        self._running: dict[tuple[str, tuple[str, ...]], RunningSums] = {}  # one per metric and bots choice
        self.stats = {"exact_spans": 0, "spans_remembered": 0, "partial_days": 0}
        self.partial = PartialDays(source, self.cache, self.version, metrics or {}, self.stats)
        self.room_subjects = RoomSubjects(source, clock, self.cache, self.version, classes)

    def version(self, metric: Metric) -> tuple[int, int]:
        """Changes of the metric's kept days and of its keys' classes: what remembered sums are checked against."""
        return self._closed.version(metric), self._classes(metric).generation

    # -- the typed read API (`rooms`: only the keys of these rooms, a team's or one room's) ----------------------
    async def sums(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...], rooms: Rooms = None
    ) -> list[int]:
        if rooms is not None:
            return [sum(found.values()) for found in await self._scoped(metric, spans, counted, rooms)]
        return await self._answer(metric, spans, "sum", counted)

    async def sums_by_class(self, metric: Metric, spans: Sequence[Span], rooms: Rooms = None) -> list[dict[str, int]]:
        if rooms is not None:
            classes = self._classes(metric)
            out = []
            for found in await self._scoped(metric, spans, None, rooms):
                sums: dict[str, int] = {}
                for key, n in found.items():
                    kind = classes.kind(key)
                    if kind is not None:
                        sums[kind] = sums.get(kind, 0) + n
                out.append(sums)
            return out
        return await self._answer(metric, spans, "class", metric.counted_for("include"))

    async def distinct(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...], rooms: Rooms = None
    ) -> list[int]:
        if rooms is not None:
            return [len(keys) for keys in await self.key_lists(metric, spans, counted, rooms)]
        return await self._answer(metric, spans, "distinct", counted)

    async def key_lists(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...], rooms: Rooms = None
    ) -> list[list[str]]:
        if rooms is not None:
            subject = subjects(metric) or unflagged
            return [sorted({subject(k) for k in found}) for found in await self._scoped(metric, spans, counted, rooms)]
        return await self._answer(metric, spans, "keys", counted)

    async def sums_by_key(
        self, metric: Metric, s: Span, counted: tuple[str, ...], rooms: Rooms = None
    ) -> dict[str, int]:
        """Per key, the counted sum over one span (a whole range, say), flagged and plain counts of a key added
        together (a room's messages, whoever wrote them). The part of the span in closed days is remembered; the
        open part is read fresh."""
        if rooms is not None:
            return merged(await self._scoped(metric, [s], counted, rooms))
        if s.first is None or s.end is None:
            return merged(await self._answer(metric, [s], "key", counted))
        open_slot = self._clock.first_open_day() * SLOTS_PER_DAY
        closed_end = min(s.end, max(s.first, open_slot))
        parts: list[dict[str, int]] = []
        if closed_end > s.first:
            cache_key = ("key-sums", metric.name, counted, s.first, closed_end)
            version = self.version(metric)
            hit = self.cache.get(cache_key, version)
            if isinstance(hit, dict):
                self.stats["spans_remembered"] += 1
                parts.append(hit)
            else:
                sums = await self._per_key(metric, s.first, closed_end, counted)
                # As of before the read, which yields: a change meanwhile leaves the sums stale at once, not kept
                # under the new version (a day first kept by the read does not change it: see ClosedDays.version).
                self.cache.put(cache_key, sums, version, weight(sums))
                parts.append(sums)
        if s.end > closed_end:
            parts.append(await self._per_key(metric, closed_end, s.end, counted))
        return parts[0] if len(parts) == 1 else merged(parts)

    def open_edge(self, metric: Metric) -> tuple[int, Hashable]:
        """Where the open days begin (seconds since the epoch), and what every read of the time before it depends
        on (that edge, the kept days, the keys' classes): while it holds, a report may keep what it derived from
        the closed part and read only the open part anew (a channel list after a new message)."""
        open_s = self._clock.first_open_day() * SLOTS_PER_DAY * SLOT_SECONDS
        return open_s, (open_s, *self.version(metric))

    async def presence(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...], rooms: Rooms = None
    ) -> tuple[Mapping[str, int], Mapping[str, int]]:
        """Per subject (a user, an author) with anything in the spans: in how many of them, and the index of the
        last one (days active and the last day active, say). The spans in closed days are remembered as one
        answer; the open ones are read fresh and added."""
        open_slot = self._clock.first_open_day() * SLOTS_PER_DAY
        cut = 0
        while cut < len(spans) and (end := spans[cut].end) is not None and end <= open_slot:
            cut += 1
        counts: Mapping[str, int] = {}
        last: Mapping[str, int] = {}
        if cut:
            named = spans.key if isinstance(spans, Spans) else tuple((s.first, s.end) for s in spans)
            cache_key = ("presence", metric.name, counted, named, cut, rooms)
            version = self.version(metric)  # as of before the read, which yields: a change meanwhile is not missed
            hit = self.cache.get(cache_key, version)
            if isinstance(hit, tuple):
                counts, last = hit  # shared with later hits: read only (Mapping), copied below before adding to it
                self.stats["spans_remembered"] += cut
            else:
                counts, last = presence_of(await self.key_lists(metric, spans[:cut], counted, rooms))
                self.cache.put(cache_key, (counts, last), version, ENTRY_BYTES + 2 * PER_KEY_BYTES * len(counts))
        if cut == len(spans):  # nothing open: the remembered answer as it is (a copy of a year's users per hit)
            return counts, last
        fresh_counts, fresh_last = presence_of(await self.key_lists(metric, spans[cut:], counted, rooms))
        all_counts, all_last = dict(counts), dict(last)
        for key, n in fresh_counts.items():
            all_counts[key] = all_counts.get(key, 0) + n
        all_last.update((key, cut + i) for key, i in fresh_last.items())
        return all_counts, all_last

    async def _scoped(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None, rooms: frozenset[str]
    ) -> list[dict[str, int]]:
        """Per span, per kept key of these rooms whose class counts (any class: `counted` None), its sum: read
        from each day's keys of those rooms alone. A span in closed days is remembered until they change."""
        now = self._clock.now()
        open_slot = self._clock.first_open_day(now) * SLOTS_PER_DAY
        version = self.version(metric)
        results: list[dict[str, int] | None] = [None] * len(spans)
        days: set[int] = set()
        for i, s in enumerate(spans):
            if s.first is not None and s.end is not None:
                if s.end <= open_slot:
                    hit = self.cache.get(("scoped", metric.name, counted, rooms, s.first, s.end), version)
                    if isinstance(hit, dict):
                        results[i] = hit
                        continue
                if s.end > s.first:
                    days.update(range(s.first // SLOTS_PER_DAY, (s.end - 1) // SLOTS_PER_DAY + 1))
        if all(r is not None for r in results):
            self.stats["spans_remembered"] += len(spans)
            return cast("list[dict[str, int]]", results)
        before = self.version(metric)
        views, partial = await self._scoped_views(metric, days, rooms, now)
        version = before if partial else self.version(metric)  # as of the counts read
        classes = self._classes(metric)
        for done, (i, s) in enumerate((i, s) for i, s in enumerate(spans) if results[i] is None):
            if done % YIELD_SPANS == YIELD_SPANS - 1:
                await asyncio.sleep(0)
            if s.first is None or s.end is None:
                found = await self._exact_keys(metric, s)
                found = {k: n for k, n in found.items() if room_of(k) in rooms}
            else:
                found = {}
                for view, a, b in _parts(views, s.first, s.end):
                    for key, n in view.room_sums(rooms, a, b).items():
                        found[key] = found.get(key, 0) + n
            await classes.ensure(found)
            kept = {k: n for k, n in found.items() if _counts(classes.kind(k), counted)}
            results[i] = kept
            if s.end is not None and s.end <= open_slot:
                self.cache.put(("scoped", metric.name, counted, rooms, s.first, s.end), kept, version, weight(kept))
        return cast("list[dict[str, int]]", results)

    async def _scoped_views(
        self, metric: Metric, days: set[int], rooms: frozenset[str], now: datetime
    ) -> tuple[dict[int, View], bool]:
        """A scoped read's days, and whether some are partial: a closed day not kept is counted for these rooms
        alone (counting/partial_days.py), not for every room."""
        if metric.is_interval or metric.keys != "rooms":
            return await self._views(metric, days, now), False
        oldest = await self._oldest.earliest(metric)
        if oldest is None:
            return {}, False
        days = {d for d in days if d >= utc_day_of(oldest)}  # nothing before the oldest document to count
        kept = self._closed.of(metric)
        missing = sorted(d for d in days if d not in kept and self._clock.is_closed(d, now))
        # Open days not followed yet: these rooms' alone, counted now, while every room's are followed in the
        # background for the reads after (a room's first answer would otherwise count every room's today).
        unfollowed = sorted(d for d in days if not self._clock.is_closed(d, now))
        if unfollowed and not self._open.following(metric, [d for d in unfollowed if d <= self._clock.today(now)]):
            self._open.follow_soon(metric, now)
        else:
            unfollowed = []
        if not missing and not unfollowed:
            return await self._views(metric, days, now), False
        partial = await self.partial.of(metric, rooms, missing) if missing else {}
        if unfollowed:
            partial.update(await self.partial.now(metric, rooms, unfollowed))
        views = await self._views(metric, days.difference(missing, unfollowed), now)
        views.update(partial)
        return views, True

    async def earliest(self, metric: Metric) -> datetime | None:
        return await self._oldest.earliest(metric)

    async def _per_key(self, metric: Metric, first: int, end: int, counted: tuple[str, ...]) -> dict[str, int]:
        span = span_of_seconds(first * SLOT_SECONDS, end * SLOT_SECONDS)
        return merged(await self._answer(metric, [span], "key", counted))

    # -- one answer ---------------------------------------------------------------------------------------------
    @overload
    async def _answer(
        self, metric: Metric, spans: Sequence[Span], mode: Literal["sum", "distinct"], counted: tuple[str, ...]
    ) -> list[int]: ...

    @overload
    async def _answer(
        self, metric: Metric, spans: Sequence[Span], mode: Literal["class", "key"], counted: tuple[str, ...]
    ) -> list[dict[str, int]]: ...

    @overload
    async def _answer(
        self, metric: Metric, spans: Sequence[Span], mode: Literal["keys"], counted: tuple[str, ...]
    ) -> list[list[str]]: ...

    async def _answer(
        self, metric: Metric, spans: Sequence[Span], mode: Mode, counted: tuple[str, ...]
    ) -> Sequence[Answer | None]:
        """Per span, in order: a sum, {class: sum}, {key: sum}, a distinct count or a sorted key list. A sum or
        distinct count of a span in closed days is remembered until the kept days or the key classes change; so is
        the closed part of a whole series (the same zone's same days asked again)."""
        now = self._clock.now()
        classes = self._classes(metric)
        subject = subjects(metric)
        version = self.version(metric)
        open_slot = self._clock.first_open_day(now) * SLOTS_PER_DAY
        remembers = mode in ("sum", "distinct")
        series_key = (
            ("series", metric.name, mode, counted, spans.key) if remembers and isinstance(spans, Spans) else None
        )
        series = self.cache.get(series_key, (version, open_slot)) if series_key is not None else None
        results: list[Answer | None]  # every one filled in (none left None) by the end
        if isinstance(series, list):
            results = list(series)
        else:
            results = [None] * len(spans)
            running = self._running_sums(metric, counted) if mode == "sum" else None
            if running is not None:
                running.answer(spans, results, open_slot)
        todo: list[int] = []
        days: set[int] = set()
        remembered = 0
        for i, s in enumerate(spans):
            if results[i] is not None:
                remembered += 1
                continue
            if s.first is None or s.end is None:
                todo.append(i)
                continue
            if remembers:
                hit = self.cache.get(("span", metric.name, mode, counted, s.first, s.end), version)
                if isinstance(hit, int):  # what is kept under a span's key: a sum or a distinct count
                    results[i] = hit
                    continue
            todo.append(i)
            if s.end > s.first:
                days.update(range(s.first // SLOTS_PER_DAY, (s.end - 1) // SLOTS_PER_DAY + 1))
        self.stats["spans_remembered"] += remembered
        if not todo:
            return results
        views = await self._views(metric, days, now)
        version = self.version(metric)  # as of the views
        for done, i in enumerate(todo):
            if mode in ("distinct", "keys") and done % YIELD_SPANS == YIELD_SPANS - 1:
                await asyncio.sleep(0)  # a long answer (a year by hour: 8,760 spans) lets other requests in
            s = spans[i]
            if s.first is None or s.end is None:
                results[i] = await self._exact(metric, s, mode, counted)
            elif mode == "sum":
                total = 0
                for view, a, b in _parts(views, s.first, s.end):
                    prefix = view.class_prefix(classes)
                    total += sum(p[b] - p[a] for kind in counted if (p := prefix.get(kind)) is not None)
                results[i] = total
            elif mode == "class":
                sums: dict[str, int] = {}
                for view, a, b in _parts(views, s.first, s.end):
                    for kind, p in view.class_prefix(classes).items():
                        if p[b] - p[a]:
                            sums[kind] = sums.get(kind, 0) + p[b] - p[a]
                results[i] = sums
            elif mode == "key":
                sums = {}
                for day_number, (view, a, b) in enumerate(_parts(views, s.first, s.end), 1):
                    if day_number % YIELD_DAYS == 0:
                        await asyncio.sleep(0)  # the views are this read's own: nothing changes them meanwhile
                    part = view.key_totals() if (a, b) == (0, SLOTS_PER_DAY) else view.key_sums(a, b)
                    for key, n in part.items():
                        if classes.kind(key) in counted:
                            sums[key] = sums.get(key, 0) + n
                results[i] = sums
            else:
                closed: frozenset[str] = frozenset()
                lo = s.first
                if s.first < open_slot < s.end:  # the closed part's keys are remembered; the open part read fresh
                    closed = self._closed_keys(metric, views, s.first, open_slot, counted, version)
                    lo = open_slot
                seen: set[str] = set()
                for view, a, b in _parts(views, lo, s.end):
                    seen |= self._key_set(metric, view, a, b)
                if subject is not None:  # compound keys: their subjects (closed ones are already)
                    fresh = {subject(key) for key in seen if classes.kind(key) in counted} - closed
                else:
                    fresh = {key for key in seen if key not in closed and classes.kind(key) in counted}
                if mode == "keys":
                    results[i] = sorted({unflagged(key) for key in (*closed, *fresh)})
                else:
                    results[i] = len(closed) + len(fresh)
            if remembers and s.end is not None and s.end <= open_slot:
                self.cache.put(("span", metric.name, mode, counted, s.first, s.end), results[i], version, SUM_BYTES)
        if series_key is not None:
            closed_only = [
                r if s.end is not None and s.end <= open_slot else None for r, s in zip(results, spans, strict=True)
            ]
            self.cache.put(series_key, closed_only, (version, open_slot), weight(closed_only))
        return results

    def _key_set(self, metric: Metric, view: View, first: int, end: int) -> set[str]:
        """The keys with anything in this run of a day's slots; a closed day's per-slot index is remembered."""
        if isinstance(view, OpenDay) or (first, end) == (0, SLOTS_PER_DAY):
            return view.key_set(first, end)
        key = (metric.name, view.day)
        found = self.slot_indexes.get(key, id(view))
        if found is None or found[0]() is not view:
            index = view.slot_index()
            self.slot_indexes.put(key, (weakref.ref(view), index), id(view), ClosedDay.index_bytes(index))
        else:
            index = found[1]
        return view.key_set(first, end, index)

    def _closed_keys(
        self,
        metric: Metric,
        views: Mapping[int, View],
        first: int,
        end: int,
        counted: tuple[str, ...],
        version: tuple[int, int],
    ) -> frozenset[str]:
        """The keys that count with anything in the closed slots [first, end) (a month of active users before
        today), remembered while the kept days stay the same; of compound keys, their subjects."""
        cache_key = ("key-set", metric.name, counted, first, end)
        hit = self.cache.get(cache_key, version)
        if isinstance(hit, frozenset):
            return hit
        seen: set[str] = set()
        for view, a, b in _parts(views, first, end):
            seen |= self._key_set(metric, view, a, b)
        classes, subject = self._classes(metric), subjects(metric)
        if subject is None:
            found = frozenset(key for key in seen if classes.kind(key) in counted)
        else:
            found = frozenset(subject(key) for key in seen if classes.kind(key) in counted)
        self.cache.put(cache_key, found, version, weight(found))
        return found

    def _running_sums(self, metric: Metric, counted: tuple[str, ...]) -> RunningSums | None:
        """The metric's counted sums over every kept closed day as one running sum, rebuilt when a kept day or a
        key's class changes: any run of closed slots is then two lookups, whatever the zone."""
        version = (*self.version(metric), self._closed.filled(metric))
        built = self._running.get((metric.name, counted))
        if built is None or built.version != version:
            closed = self._closed.of(metric)
            if not closed:
                return None
            built = self._running[(metric.name, counted)] = RunningSums(version, closed, self._classes(metric), counted)
        return built

    async def _exact(self, metric: Metric, s: Span, mode: Mode, counted: tuple[str, ...]) -> Answer:
        """A span that is not a run of slots (offsets before 1980): counted directly, if anything can be in it."""
        per_key = await self._exact_keys(metric, s)
        classes = self._classes(metric)
        await classes.ensure(per_key)
        if mode == "class":
            out: dict[str, int] = {}
            for key, n in per_key.items():
                kind = classes.kind(key)
                if kind is not None:
                    out[kind] = out.get(kind, 0) + n
            return out
        kept = {k: n for k, n in per_key.items() if classes.kind(k) in counted}
        if mode == "key":
            return kept
        subject = subjects(metric) or unflagged
        if mode == "keys":  # a sorted list, as every other span's keys (a set cannot be written as JSON)
            return sorted({subject(k) for k in kept})
        if mode == "distinct":
            return len({subject(k) for k in kept}) if subjects(metric) is not None else len(kept)
        return sum(kept.values())

    async def _exact_keys(self, metric: Metric, s: Span) -> dict[str, int]:
        """Per kept key, the documents of a span off the slots, counted directly (if anything can be in it)."""
        self.stats["exact_spans"] += 1
        oldest = await self._oldest.earliest(metric)
        if oldest is None or s.hi <= oldest:
            return {}
        return await counter.count_span(self._source.db, metric, s.lo, s.hi, self._source.params)

    async def _views(self, metric: Metric, days: Iterable[int], now: datetime) -> dict[int, View]:
        """What each day's counts are read from; a day without any document has none."""
        await self._source.id()
        oldest = await self._oldest.earliest(metric)
        if oldest is None:
            return {}
        first = utc_day_of(oldest)
        wanted = sorted(d for d in days if d >= first)
        shut = [d for d in wanted if self._clock.is_closed(d, now)]
        open_days = [d for d in wanted if not self._clock.is_closed(d, now)]
        opening = None
        with self._closed.held(metric, shut):  # a detail day filled here stays in memory until taken below
            missing = self._closed.missing(metric, shut)
            if missing:
                if open_days:  # the open days' snapshot is read while the closed days are counted, not after
                    opening = asyncio.ensure_future(self._open.views(metric, open_days, now))
                try:
                    await self._closed.fill(metric, missing)
                except BaseException:
                    if opening is not None:  # it goes on (what it tracks is kept for the next ask)
                        opening.add_done_callback(lambda f: f.cancelled() or f.exception())
                    raise
            kept = self._closed.of(metric)
            views: dict[int, View] = {d: kept[d] for d in shut}
        if opening is not None:
            views.update(await opening)
        elif open_days:
            views.update(await self._open.views(metric, open_days, now))
        return views

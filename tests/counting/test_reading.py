"""Reading on made-up days, without a database: every kind of answer, in zones with DST changes and odd offsets,
equals a recount of the same cells one by one, asked cold and asked again (from what the reader remembers), and
a kept day that changes is read anew."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from engagement_svc.counting.catalog import ACTIVE_USERS, MESSAGES, POSTS, Metric
from engagement_svc.counting.classes import EveryKey
from engagement_svc.counting.clock import DayClock
from engagement_svc.counting.kept import ClosedDay, OpenDay
from engagement_svc.counting.reading import YIELD_DAYS, Reader
from engagement_svc.counting.slots import day_spans, hour_spans, span_of_seconds

FLAG = "\x1f"
PART = "\x1e"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)  # Europe's spring change: the day before is closed, today open
SLOTS = 96
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]


def _day(d: date) -> int:
    return (datetime(d.year, d.month, d.day, tzinfo=UTC) - EPOCH).days


class _Rooms:
    """Room types by id: c, p, d count; l does not; a room missing counts nowhere."""

    generation = 0

    def __init__(self, types: dict[str, str]):
        self.types = types

    def knows(self, key: str) -> bool:
        return True

    def kind(self, key: str) -> str | None:
        rid, _, flag = key.partition(FLAG)
        kind = self.types.get(rid.split(PART, 1)[0])  # a room and author key is its room's
        return None if kind is None else kind + (FLAG + flag if flag else "")

    async def ensure(self, keys: Iterable[str]) -> None:
        return None


class _Source:
    db = None

    def __init__(self) -> None:
        self.params: dict[str, frozenset[str]] = {}

    async def id(self) -> str:
        return "source"


class _Closed:
    """Kept closed days, all there (nothing to count)."""

    def __init__(self, days: dict[int, ClosedDay]):
        self.days, self.changes = days, 0

    def of(self, metric: Metric) -> Mapping[int, ClosedDay]:
        return self.days

    def version(self, metric: Metric) -> int:
        return self.changes

    def filled(self, metric: Metric) -> int:
        return 0  # every day kept from the start

    def missing(self, metric: Metric, days: Iterable[int]) -> list[int]:
        return [d for d in days if d not in self.days]

    async def fill(self, metric: Metric, days: list[int]) -> None:
        raise AssertionError(f"every closed day is kept, yet {days} were asked")

    @contextlib.contextmanager
    def held(self, metric: Metric, days: Iterable[int]) -> Iterator[None]:
        yield  # nothing leaves memory here


class _Open:
    def __init__(self, days: dict[int, OpenDay]):
        self.days = days

    async def views(self, metric: Metric, days: list[int], now: datetime) -> dict[int, OpenDay]:
        return {d: self.days[d] for d in days if d in self.days}

    def following(self, metric: Metric, days: list[int]) -> bool:
        return True  # its days are what the stream would have brought

    def follow_soon(self, metric: Metric, now: datetime) -> None:
        raise AssertionError("followed already")


class _Oldest:
    async def earliest(self, metric: Metric) -> datetime:
        return datetime(2024, 3, 1, tzinfo=UTC)


def _cells(rng: random.Random, keys: list[str], n: int, bots: bool = False) -> dict[tuple[str, int], int]:
    """Room keys: any message may be a bot's (flagged); user keys (`bots`): every seventh user is a bot."""
    cells: dict[tuple[str, int], int] = {}
    for _ in range(n):
        key = rng.choice(keys)
        if (int(key[1:]) % 7 == 0) if bots else rng.random() < 0.1:
            key += FLAG + "bot"
        slot = rng.randrange(SLOTS)
        cells[(key, slot)] = cells.get((key, slot), 0) + rng.randrange(1, 4)
    return cells


def _world(metric: Metric, seed: int) -> tuple[Reader, dict[int, dict[tuple[str, int], int]], Any, _Closed]:
    rng = random.Random(seed)
    rooms = [f"k{i}" for i in range(40)]
    classes: Any = (
        _Rooms({k: "cpdl"[i % 4] for i, k in enumerate(rooms[:-2])}) if metric.keys == "rooms" else EveryKey("user")
    )
    # A room and author key: 40 rooms, 25 authors (some in several rooms, some only in l rooms or gone ones).
    keys = [f"{r}{PART}u{(i * 7 + j) % 25}" for i, r in enumerate(rooms) for j in range(3)] if metric.second else rooms
    first, today = _day(date(2024, 3, 1)), _day(NOW.date())
    all_cells = {d: _cells(rng, keys, 300, bots=metric.keys == "users") for d in range(first, today + 1)}
    if metric is ACTIVE_USERS:  # presence: a count of one per key and slot
        all_cells = {d: dict.fromkeys(c, 1) for d, c in all_cells.items()}
    closed = _Closed({d: ClosedDay.of_cells(d, c, sum(c.values())) for d, c in all_cells.items() if d < today})
    open_days = _Open({today: OpenDay(today, all_cells[today])})
    reader = Reader(
        cast(Any, _Source()),
        DayClock(0, now=lambda: NOW),
        cast(Any, closed),
        cast(Any, open_days),
        cast(Any, _Oldest()),
        lambda m: classes,
    )
    return reader, all_cells, classes, closed


def _recount(all_cells: dict, classes: Any, counted: tuple[str, ...], lo_s: int, hi_s: int) -> dict[str, int]:
    """Per key that counts, its sum in [lo_s, hi_s), cell by cell (a slot is 900 s)."""
    out: dict[str, int] = {}
    for day, cells in all_cells.items():
        for (key, slot), n in cells.items():
            t = (day * SLOTS + slot) * 900
            if lo_s <= t < hi_s and classes.kind(key) in counted:
                out[key] = out.get(key, 0) + n
    return out


def _plain(per_key: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in per_key.items():
        plain = key.split(FLAG, 1)[0]
        out[plain] = out.get(plain, 0) + n
    return out


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("bots", ["include", "exclude", "only"])
async def test_sums_and_sums_by_key_equal_a_recount(zone, bots):
    reader, all_cells, classes, _ = _world(MESSAGES, 1)
    counted = MESSAGES.counted_for(bots)
    tz = ZoneInfo(zone)
    spans = day_spans(tz, date(2024, 3, 2), date(2024, 3, 31))
    for _ in range(2):  # cold, then from what is remembered
        sums = await reader.sums(MESSAGES, spans, counted)
        assert sums == [sum(_recount(all_cells, classes, counted, s.lo_s, s.hi_s).values()) for s in spans]
        whole = day_spans(tz, date(2024, 3, 2), date(2024, 3, 31))
        span = type(spans[0])(whole[0].lo_s, whole[-1].hi_s, whole[0].first, whole[-1].end)
        assert await reader.sums_by_key(MESSAGES, span, counted) == _plain(
            _recount(all_cells, classes, counted, span.lo_s, span.hi_s)
        )
    by_class = await reader.sums_by_class(MESSAGES, spans)
    for s, got in zip(spans, by_class, strict=True):
        expected: dict[str, int] = {}
        for key, n in _recount(
            all_cells,
            classes,
            tuple({classes.kind(k) for k in classes.types} | {classes.kind(k + FLAG + "bot") for k in classes.types}),
            s.lo_s,
            s.hi_s,
        ).items():
            expected[classes.kind(key)] = expected.get(classes.kind(key), 0) + n
        assert got == expected


@pytest.mark.parametrize("zone", ZONES)
async def test_distinct_keys_and_key_lists_by_day_and_hour_equal_a_recount(zone):
    reader, all_cells, classes, _ = _world(ACTIVE_USERS, 2)
    tz = ZoneInfo(zone)
    for bots in ("include", "exclude", "only"):
        counted = ACTIVE_USERS.counted_for(bots)
        days = day_spans(tz, date(2024, 3, 25), date(2024, 3, 31))
        hours = [s for day in hour_spans(tz, date(2024, 3, 30), date(2024, 3, 31)) for s in day]
        for spans in (days, hours, days):
            expected = [set(_plain(_recount(all_cells, classes, counted, s.lo_s, s.hi_s))) for s in spans]
            assert await reader.distinct(ACTIVE_USERS, spans, counted) == [len(e) for e in expected]
            assert await reader.key_lists(ACTIVE_USERS, spans, counted) == [sorted(e) for e in expected]
    assert reader.cache.hits >= 3  # the days asked again: their series, remembered


async def test_a_kept_day_that_changes_is_read_anew_not_from_what_was_remembered():
    reader, all_cells, classes, closed = _world(MESSAGES, 3)
    counted = MESSAGES.counted_for("include")
    spans = day_spans(ZoneInfo("Europe/Berlin"), date(2024, 3, 10), date(2024, 3, 20))
    before = await reader.sums(MESSAGES, spans, counted)
    assert await reader.sums(MESSAGES, spans, counted) == before
    day = _day(date(2024, 3, 15))
    all_cells[day] = {("k0", 40): 1000}  # k0 is a c room
    closed.days[day] = ClosedDay.of_cells(day, all_cells[day], 1000)
    closed.changes += 1
    after = await reader.sums(MESSAGES, spans, counted)
    assert after != before
    assert after == [sum(_recount(all_cells, classes, counted, s.lo_s, s.hi_s).values()) for s in spans]


def _authors(per_key: dict[str, int]) -> set[str]:
    return {key.split(FLAG, 1)[0].split(PART, 1)[1] for key in per_key}


@pytest.mark.parametrize("zone", ZONES)
async def test_compound_keys_count_their_subjects_and_presence_equals_a_recount(zone):
    """Messages kept per room and author: distinct authors (not pairs), their lists, and per author the days with
    a message and the last of them, over closed days and today's open one, cold and from what is remembered."""
    reader, all_cells, classes, _ = _world(POSTS, 5)
    tz = ZoneInfo(zone)
    spans = day_spans(tz, date(2024, 3, 20), date(2024, 3, 31))
    for bots in ("include", "exclude", "only"):
        counted = POSTS.counted_for(bots)
        expected = [_authors(_recount(all_cells, classes, counted, s.lo_s, s.hi_s)) for s in spans]
        for _ in range(2):
            assert await reader.distinct(POSTS, spans, counted) == [len(e) for e in expected]
            assert await reader.key_lists(POSTS, spans, counted) == [sorted(e) for e in expected]
            days, last = await reader.presence(POSTS, spans, counted)
            assert days == {a: sum(a in e for e in expected) for a in set().union(*expected)}
            assert last == {a: max(i for i, e in enumerate(expected) if a in e) for a in set().union(*expected)}
    pairs = _recount(all_cells, classes, POSTS.counted_for(), spans[0].lo_s, spans[0].hi_s)
    assert len(_authors(pairs)) < len(pairs)  # authors in several rooms: a count of pairs would be more
    closed_only = day_spans(tz, date(2024, 3, 20), date(2024, 3, 29))
    first = await reader.presence(POSTS, closed_only, POSTS.counted_for())
    hits = reader.cache.hits
    assert await reader.presence(POSTS, closed_only, POSTS.counted_for()) == first
    assert reader.cache.hits == hits + 1  # the closed days' presence, remembered whole


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "Australia/Lord_Howe"])
@pytest.mark.parametrize("metric", [MESSAGES, POSTS], ids=lambda m: m.name)
async def test_reads_of_some_rooms_equal_a_recount_of_their_keys(zone, metric):
    """A team's rooms (k1 among them, whose id begins k10's...: only its own keys), every kind of read, over closed
    days and today's open one, cold and remembered; a room without a key and a room of type l in the set."""
    reader, all_cells, classes, _ = _world(metric, 6)
    rooms = frozenset({"k1", "k3", "k7", "k12", "k39", "nowhere"})  # k3, k7: l rooms (never counted)
    tz = ZoneInfo(zone)
    spans = day_spans(tz, date(2024, 3, 25), date(2024, 3, 31))
    hours = [s for day in hour_spans(tz, date(2024, 3, 31), date(2024, 3, 31)) for s in day]

    def recount(counted, s):
        found = _recount(all_cells, classes, counted, s.lo_s, s.hi_s)
        return {k: n for k, n in found.items() if k.split(FLAG, 1)[0].split(PART, 1)[0] in rooms}

    def subjects_of(found):
        return {(k.split(FLAG, 1)[0].split(PART, 1)[1] if metric is POSTS else k.split(FLAG, 1)[0]) for k in found}

    for bots in ("include", "exclude", "only"):
        counted = metric.counted_for(bots)
        for _ in range(2):
            for run in (spans, hours):
                expected = [recount(counted, s) for s in run]
                assert await reader.sums(metric, run, counted, rooms) == [sum(e.values()) for e in expected]
                assert await reader.key_lists(metric, run, counted, rooms) == [sorted(subjects_of(e)) for e in expected]
                assert await reader.distinct(metric, run, counted, rooms) == [len(subjects_of(e)) for e in expected]
            whole = type(spans[0])(spans[0].lo_s, spans[-1].hi_s, spans[0].first, spans[-1].end)
            assert await reader.sums_by_key(metric, whole, counted, rooms) == _plain(recount(counted, whole))
            days, last = await reader.presence(metric, spans, counted, rooms)
            expected = [subjects_of(recount(counted, s)) for s in spans]
            assert days == {a: sum(a in e for e in expected) for a in set().union(*expected)}
            assert last == {a: max(i for i, e in enumerate(expected) if a in e) for a in set().union(*expected)}
    everything = tuple({classes.kind(k) for k, _ in next(iter(all_cells.values()))} - {None})
    by_class = await reader.sums_by_class(metric, spans, rooms)
    for s, got in zip(spans, by_class, strict=True):
        want: dict[str, int] = {}
        for key, n in recount(everything, s).items():
            want[classes.kind(key)] = want.get(classes.kind(key), 0) + n
        assert {k: v for k, v in got.items() if k in everything} == want
    assert sum(await reader.sums(metric, spans, metric.counted_for(), rooms)) < sum(
        await reader.sums(metric, spans, metric.counted_for())
    )  # the other rooms' counts are left out


async def test_a_long_per_key_sum_lets_other_tasks_run_between_its_days():
    """Per-key sums over many days (a year of a big server's posts takes seconds) are added up a few days at a time,
    the event loop's other tasks run in between: a request's heavy read never stalls the others (nor the driver's
    server checks, which would call MongoDB down)."""
    reader, all_cells, classes, _ = _world(POSTS, 3)
    counted = POSTS.counted_for("include")
    days = day_spans(ZoneInfo("UTC"), date(2024, 3, 1), date(2024, 3, 30))  # 30 closed days
    span = span_of_seconds(days[0].lo_s, days[-1].hi_s)
    turns, done = 0, False

    async def ticker() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = turns
    found = await reader.sums_by_key(POSTS, span, counted)
    done = True
    await task
    assert found == _plain(_recount(all_cells, classes, counted, span.lo_s, span.hi_s))
    assert turns - before >= len(days) // YIELD_DAYS


async def test_a_change_during_a_long_per_key_read_is_not_remembered_as_the_new_counts():
    """A read that lets other tasks run between its days may see a day counted again meanwhile: what it read is
    remembered as of before (stale at once), not as the new counts, so the next read has them."""
    reader, all_cells, classes, closed = _world(POSTS, 5)
    counted = POSTS.counted_for("include")
    days = day_spans(ZoneInfo("UTC"), date(2024, 3, 1), date(2024, 3, 30))
    span = span_of_seconds(days[0].lo_s, days[-1].hi_s)
    before = _plain(_recount(all_cells, classes, counted, span.lo_s, span.hi_s))
    day = _day(date(2024, 3, 20))
    cell = next(c for c in sorted(all_cells[day]) if classes.kind(c[0]) in counted)

    async def counted_again() -> None:  # runs at the read's first yield, after it has its days in hand
        all_cells[day] = {**all_cells[day], cell: all_cells[day][cell] + 1000}
        closed.days[day] = ClosedDay.of_cells(day, all_cells[day], sum(all_cells[day].values()))
        closed.changes += 1

    task = asyncio.create_task(counted_again())
    assert await reader.sums_by_key(POSTS, span, counted) == before  # read before the change
    await task
    after = _plain(_recount(all_cells, classes, counted, span.lo_s, span.hi_s))
    assert after != before
    assert await reader.sums_by_key(POSTS, span, counted) == after

"""One UTC day's kept counts, read every way reports read them: a day of presence kept as runs answers exactly as
one kept slot by slot; sizes; key sets of part of a day; an open day taking documents one at a time."""

from __future__ import annotations

import random
from array import array
from itertools import pairwise

from engagement_svc.counting import kept
from engagement_svc.counting.catalog import ACTIVE_USERS
from engagement_svc.counting.classes import EveryKey
from engagement_svc.counting.counter import built_day
from engagement_svc.counting.kept import ClosedDay, OpenDay, PresenceDay
from engagement_svc.counting.slots import SLOTS_PER_DAY
from tests.support.pipeline_docs import DAY, messages_doc, sessions_doc


class _SomeKeys:
    """Classes for the test: a third of the keys count nowhere, the rest as EveryKey says (bots apart)."""

    generation = 1

    def kind(self, key: str) -> str | None:
        return None if sum(map(ord, key)) % 3 == 0 else EveryKey("user").kind(key)


def _general(day: ClosedDay) -> ClosedDay:
    """The same cells as a day that keeps a slot per entry and a count of 1 for each (what a PresenceDay saves)."""
    general = ClosedDay(day.day, day.cells(), day.raw)
    assert type(general) is ClosedDay and isinstance(general.counts, memoryview)
    return general


def test_a_day_of_presence_kept_as_runs_answers_as_one_kept_slot_by_slot():
    """A day whose counts are all 1 (sessions) keeps each key's runs of slots; every read equals the one of a
    day that keeps every slot: cells, totals, per-class running sums, keys and sums over parts of the day."""
    rng = random.Random(9)
    for classes in (EveryKey("user"), _SomeKeys()):
        for _ in range(5):
            doc = sessions_doc(rng, False)
            bots = frozenset(rng.sample(sorted(doc["k"]), 9))
            day = built_day(DAY, doc, ACTIVE_USERS.key_flagger({"bots": bots}))
            assert isinstance(day, PresenceDay)
            general = _general(day)
            assert day.cells() == general.cells() and day.key_totals() == general.key_totals()
            assert day.class_prefix(classes) == general.class_prefix(classes)
            for first, end in ((0, SLOTS_PER_DAY), (0, 1), (95, 96), (10, 50), (37, 38), (60, 96), (20, 20)):
                assert day.key_set(first, end) == general.key_set(first, end), (first, end)
                assert day.key_sums(first, end) == general.key_sums(first, end), (first, end)


def test_slots_of_presence_given_in_any_order_become_the_same_runs():
    """A day of all-1 counts read as slots (a day saved by an earlier release, or a quiet day of messages) is
    kept as runs: each key's slots sorted, adjacent ones joined."""
    rng = random.Random(4)
    for _ in range(20):
        cells = {(f"k{rng.randrange(30)}", rng.randrange(SLOTS_PER_DAY)): 1 for _ in range(rng.randrange(1, 400))}
        day = ClosedDay.of_cells(DAY, cells, 7)
        assert isinstance(day, PresenceDay) and day.cells() == cells and day.raw == 7
        for i in range(len(day.keys)):
            runs = day.runs_of(i)
            assert all(a < b for a, b in runs) and all(b < c for (_, b), (c, _) in pairwise(runs))
        keys, starts, slots = [], array("I", [0]), bytearray()
        for key in sorted({k for k, _ in cells}):
            mine = [s for k, s in cells if k == key]
            rng.shuffle(mine)
            keys.append(key)
            slots += bytes(mine)
            starts.append(len(slots))
        again = ClosedDay.from_arrays(DAY, keys, starts, bytes(slots), array("I", [1] * len(slots)), 7)
        assert isinstance(again, PresenceDay) and again.runs == day.runs and list(again.starts) == list(day.starts)
    assert type(ClosedDay.of_cells(DAY, {("k", 3): 2, ("k", 4): 1}, 0)) is ClosedDay  # a count of 2: slot by slot


def test_a_day_of_presence_holds_no_counts_of_its_own():
    """A day of sessions keeps two bytes a run and 16 bits a key's first run (no slot, no count): its size says
    so and is a fraction of what slot by slot took; a day of messages keeps its counts, as bytes when they fit."""
    rng = random.Random(11)
    presence = built_day(DAY, sessions_doc(rng, True))
    assert isinstance(presence, PresenceDay) and presence.starts.typecode == "H"
    assert presence.nbytes() == 8 * len(presence.keys) + len(presence.runs) + 2 * len(presence.starts)
    assert sum(presence.key_totals().values()) == len(presence.cells()) == len(_general(presence).slots)
    assert presence.nbytes() < _general(presence).nbytes() / 2
    messages = built_day(DAY, messages_doc(rng, True))
    assert not isinstance(messages.counts, memoryview) and messages.counts.typecode == "I"  # a count of 300


def test_key_sets_of_part_of_a_day_are_exact_with_or_without_a_kept_index():
    """A zone's day or an hour is part of a UTC day: its keys come from a per-slot index, which the reader keeps
    (bounded, see tests/counting/test_reading.py) or the day builds for one call; the whole day needs none."""
    rng = random.Random(5)
    for day in [built_day(DAY, sessions_doc(rng, False)) for _ in range(3)] + [built_day(DAY, messages_doc(rng, True))]:
        index = day.slot_index()
        assert ClosedDay.index_bytes(index) == sum(64 + a.itemsize * len(a) for a in index)
        for first, end in ((0, 40), (37, 41), (90, SLOTS_PER_DAY), (0, SLOTS_PER_DAY)):
            expected = {key for (key, slot) in day.cells() if first <= slot < end}
            assert day.key_set(first, end) == day.key_set(first, end, index) == expected


class _Rooms:
    """A room-type map that knows what it was told."""

    generation = 0

    def __init__(self, types: dict[str, str]):
        self.types = types

    def knows(self, key: str) -> bool:
        return key in self.types

    def kind(self, key: str) -> str | None:
        return self.types.get(key)

    async def ensure(self, keys) -> None:
        return None


def test_an_open_day_holds_its_cells_once_and_names_the_keys_to_look_up():
    """Made from a snapshot, an open day keeps no second copy of its cells for the keys not yet looked up (every
    key is pending until the first sums); keys that arrive later are pending until folded in; each key is
    indexed once per slot however often it is added, and the sums and key sets equal the cells."""
    cells = {("r1", 3): 2, ("r2", 3): 1, ("r2", 50): 4}
    day = OpenDay(DAY, cells)
    assert day.unfolded == {} and sorted(day.pending_keys()) == ["r1", "r2"]
    rooms = _Rooms({"r1": "c", "r2": "p"})
    assert {k: p[SLOTS_PER_DAY] for k, p in day.class_prefix(rooms).items()} == {"c": 2, "p": 5}
    assert list(day.pending_keys()) == []
    for _ in range(3):
        day.add("r3", 3, rooms)  # not known yet: held apart
        day.add("r1", 3, rooms)
    assert list(day.pending_keys()) == ["r3"] and day.by_slot[3] == ["r1", "r2", "r3"]
    rooms.types["r3"] = "c"
    assert {k: p[SLOTS_PER_DAY] for k, p in day.class_prefix(rooms).items()} == {"c": 2 + 3 + 3, "p": 5}
    assert day.key_set(0, 4) == {"r1", "r2", "r3"} and day.key_set(4, SLOTS_PER_DAY) == {"r2"}


def test_an_open_day_names_a_key_to_look_up_until_it_is_seen_known_not_at_every_read():
    """Before any sums by class (a channel list reads keys, never those), a read looked up every key of the day
    again; now the keys seen known leave the pending set, and only keys that arrive unknown join it."""
    day = OpenDay(DAY, {("r1", 3): 2, ("r2", 4): 1})
    rooms = _Rooms({"r1": "c"})
    day.looked_up(list(day.pending_keys()), rooms)
    assert list(day.pending_keys()) == ["r2"]  # not known yet: still pending
    rooms.types["r2"] = "p"
    day.looked_up(["r2"], rooms)
    assert list(day.pending_keys()) == []
    day.add("r1", 5, rooms)
    day.add("r4", 5, rooms)
    assert list(day.pending_keys()) == ["r4"]
    rooms.types["r4"] = "d"
    day.looked_up(["r4"], rooms)
    assert list(day.pending_keys()) == []
    assert {k: p[SLOTS_PER_DAY] for k, p in day.class_prefix(rooms).items()} == {"c": 3, "p": 1, "d": 1}


def test_a_key_added_while_its_class_is_looked_up_is_held_until_it_is_known():
    """A read looks up the day's pending keys, then sums by class; a message in a room never seen before that
    arrives meanwhile (while the lookup is awaited) is held apart, not folded in as a key of no class, and counts
    once its room is known."""
    rooms = _Rooms({"r1": "c"})
    day = OpenDay(DAY, {("r1", 3): 2})
    day.looked_up(list(day.pending_keys()), rooms)
    day.add("r9", 4, rooms)  # while the read's lookup was awaited: not looked up by it
    assert {k: p[SLOTS_PER_DAY] for k, p in day.class_prefix(rooms).items()} == {"c": 2}
    assert list(day.pending_keys()) == ["r9"]
    rooms.types["r9"] = "p"
    day.looked_up(["r9"], rooms)
    day.add("r9", 5, rooms)
    assert {k: p[SLOTS_PER_DAY] for k, p in day.class_prefix(rooms).items()} == {"c": 2, "p": 2}
    rooms.generation += 1  # every key folded again, by its class now
    assert {k: p[SLOTS_PER_DAY] for k, p in day.class_prefix(rooms).items()} == {"c": 2, "p": 2}


def test_an_open_day_taking_documents_one_at_a_time_equals_its_recount():
    """Today's counts as the change stream adds them, each read equal to a recount of the same cells, and the
    day's version moving with every document (what remembered answers about today are checked against)."""
    rng = random.Random(21)
    rooms = _Rooms({f"r{i}": "cpd"[i % 3] for i in range(6)})
    day = OpenDay(DAY, {})
    cells: dict[tuple[str, int], int] = {}
    versions = [day.version]
    for _ in range(300):
        key, slot = f"r{rng.randrange(6)}", rng.randrange(SLOTS_PER_DAY)
        day.add(key, slot, rooms)
        cells[(key, slot)] = cells.get((key, slot), 0) + 1
        versions.append(day.version)
    assert len(set(versions)) == len(versions)  # a new version for every document
    closed = ClosedDay(DAY, cells, 0)
    assert day.key_totals() == closed.key_totals()
    for first, end in ((0, SLOTS_PER_DAY), (10, 50), (37, 38), (95, 96)):
        assert day.key_sums(first, end) == closed.key_sums(first, end)
        assert day.key_set(first, end) == closed.key_set(first, end) == {k for (k, s) in cells if first <= s < end}
    assert {k: list(p) for k, p in day.class_prefix(rooms).items()} == {
        k: list(p) for k, p in closed.class_prefix(rooms).items()
    }
    both = kept.combined(closed.class_prefix(rooms), ("c", "p"))
    c, p = closed.class_prefix(rooms)["c"], closed.class_prefix(rooms)["p"]
    assert list(both) == [a + b for a, b in zip(c, p, strict=True)]
    assert list(kept.combined({}, ("c",))) == [0] * (SLOTS_PER_DAY + 1)


def test_an_open_day_names_the_keys_counted_since_a_version_and_finds_a_rooms_keys_alone():
    """What a report keeps from the open days is read again for these keys only; a room's keys (its own, flagged,
    its authors') are looked up, whatever the day's other rooms, and sum as a closed day of the same cells does."""
    rooms = _Rooms({"r1": "c", "r2": "p", "r3": "c", "r10": "c"})
    cells = {("r1", 3): 2, ("r2\x1eann", 5): 1, ("r10", 3): 7}
    day = OpenDay(DAY, cells)
    start = day.version
    assert day.changed_since(start) == []  # the snapshot's cells are the starting point, not changes
    day.add("r1\x1fbot", 4, rooms)
    day.add("r3\x1ebob", 7, rooms)
    middle = day.version
    day.add("r1", 3, rooms)
    day.begin("r2", 8, SLOTS_PER_DAY)  # an interval begun is a change too
    assert sorted(day.changed_since(start)) == ["r1", "r1\x1fbot", "r2", "r3\x1ebob"]
    assert sorted(day.changed_since(middle)) == ["r1", "r2"] and day.changed_since(day.version) == []
    every = {**cells, ("r1\x1fbot", 4): 1, ("r3\x1ebob", 7): 1, ("r1", 3): 3}
    closed = ClosedDay(DAY, every, 0)
    for wanted in (["r1"], ["r2", "r3"], ["r10"], ["nothing"], ["r1", "r10", "r3"]):
        for first, end in ((0, SLOTS_PER_DAY), (4, 6), (3, 4)):
            assert day.room_sums(wanted, first, end) == closed.room_sums(wanted, first, end), (wanted, first, end)

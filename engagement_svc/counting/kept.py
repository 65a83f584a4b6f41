"""Counts of one UTC day of one metric, per key and slot, and the sums reports read from them.

`ClosedDay` is what a closed day's count becomes: compact (about 9 bytes per non-empty key and slot) and never
changed, only replaced; a day whose counts are all 1 (a day of sessions: presence) is a `PresenceDay`, which
keeps each key's runs of slots instead (two bytes a run). `OpenDay` is a day still open, kept exact by the change
stream: it takes one more document at a time. All answer the same questions, always through the current
room-type map (a room deleted or turned into livechat after its messages were counted stops counting at once):
- `class_prefix`: per class of key (room type), the running sum over the day's slots, so that any run of
  slots costs two lookups;
- `key_totals`: per key, the whole day;
- `key_sums`: per key, a run of the day's slots;
- `room_sums`: per key of some rooms (a team's, one room's), a run of the day's slots, found by bisection;
- `key_set`: the keys with anything in a run of the day's slots (distinct users), from a per-slot index
  (`slot_index`) that the reader keeps in a bounded cache (see counting/reading.py).
An open day of an interval metric also holds the intervals still open (`ongoing`): they cover up to now,
whenever the day is read.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeAlias

from engagement_svc.counting.classes import Classes
from engagement_svc.counting.slots import SLOTS_PER_DAY, slot_of
from engagement_svc.rocketchat.rooms import FLAG, PART, room_of

_SEPARATORS = (FLAG, PART)  # what may follow a room id in a key of that room


def _shared(keys: Iterable[str]) -> tuple[str, ...]:
    """The keys as one string object each, whichever days name them (a room or user id in every day it is active
    would otherwise be a copy per day: 66 bytes each, most of a kept day's memory)."""
    return tuple(sys.intern(key) for key in keys)


# Per (key, slot) cell; a memoryview: all ones, see ones. (Quoted: `array[int]` is not subscriptable at run time
# before Python 3.12.)
Counts: TypeAlias = "array[int] | memoryview"


def _narrow(counts: Counts) -> Counts:
    """Counts that all fit a byte kept as bytes (a quarter of the memory); counts that are all 1 (presence: every
    day of sessions) marked as a view of ones (see `ones`)."""
    if isinstance(counts, memoryview):
        return counts
    if counts.typecode != "B" and (not counts or max(counts) <= 0xFF):
        counts = array("B", counts)
    if counts and counts.count(1) == len(counts):
        return ones(len(counts))
    return counts


def _narrow_starts(starts: array[int]) -> array[int]:
    """Where each key's entries begin, as 16-bit numbers when the last fits (a day of at most 65,535 entries:
    half the memory), else 32-bit."""
    if starts.typecode != "H" and (not starts or starts[-1] <= 0xFFFF):
        return array("H", starts)
    return starts


def ones(n: int) -> memoryview:
    """n counts of 1 (every cell of a day of presence). Such a day becomes a PresenceDay, which keeps no counts:
    this run lives only while the day is made."""
    return memoryview(b"\x01" * n)


# Of 64-bit ints: SLOTS_PER_DAY + 1 running sums (776 bytes; a list adds an int object per sum).
Prefix: TypeAlias = "array[int]"


def _prefix(slots: list[int]) -> Prefix:
    out, running = array("q", [0]), 0
    for n in slots:
        running += n
        out.append(running)
    return out


def combined(prefix: Mapping[str, Prefix], counted: tuple[str, ...]) -> Prefix:
    parts = [p for kind in counted if (p := prefix.get(kind)) is not None]
    if not parts:
        return array("q", bytes(8 * (SLOTS_PER_DAY + 1)))
    return parts[0] if len(parts) == 1 else array("q", [sum(values) for values in zip(*parts, strict=True)])


_SLOT_BYTES = [bytes([slot]) for slot in range(SLOTS_PER_DAY)]


def _empty_index(keys: int) -> list[array[int]]:
    """A per-slot index with no entry yet: per slot, an array of key indices (16-bit while they fit)."""
    return [array("H" if keys <= 0xFFFF else "I") for _ in range(SLOTS_PER_DAY)]


class ClosedDay:
    __slots__ = (
        "__weakref__",
        "_class_prefix",
        "_counted",
        "_generation",
        "counts",
        "day",
        "keys",
        "raw",
        "slots",
        "starts",
    )

    def __init__(self, day: int, cells: Mapping[tuple[str, int], int], raw: int):
        """`cells`: (key, slot within the day) -> count, zeros left out; `raw`: every document of the day,
        counted or not (a later deletion makes it disagree with a fresh index count)."""
        self.day = day
        self.raw = raw
        keys: list[str] = []
        starts, slots, counts = array("I", [0]), bytearray(), array("I")
        for (key, slot), n in sorted(cells.items()):
            if not n:
                continue
            if not keys or keys[-1] != key:
                if keys:
                    starts.append(len(counts))
                keys.append(key)
            slots.append(slot)
            counts.append(n)
        starts.append(len(counts))
        if not keys:
            starts = array("I", [0])
        self.keys, self.starts, self.slots = _shared(keys), _narrow_starts(starts), bytes(slots)
        self.counts = _narrow(counts)
        self._reset()

    @classmethod
    def from_arrays(
        cls, day: int, keys: list[str], starts: array[int], slots: bytes, counts: Counts, raw: int
    ) -> ClosedDay:
        """A day from its parallel arrays: per key i, its slots and counts at [starts[i], starts[i + 1]). A day
        whose counts are all 1 is a PresenceDay (its slots kept as runs)."""
        narrowed = _narrow(counts)
        if isinstance(narrowed, memoryview) and keys:
            return PresenceDay.from_slots(day, keys, starts, slots, raw)
        self = cls.__new__(cls)
        self.day, self.raw, self.keys, self.starts, self.slots, self.counts = (
            day,
            raw,
            _shared(keys),
            _narrow_starts(starts),
            slots,
            narrowed,
        )
        self._reset()
        return self

    @classmethod
    def of_cells(cls, day: int, cells: Mapping[tuple[str, int], int], raw: int) -> ClosedDay:
        """`ClosedDay(day, cells, raw)`, as a PresenceDay when every count is 1."""
        made = cls(day, cells, raw)
        if isinstance(made.counts, memoryview) and made.keys:
            return PresenceDay.from_slots(day, list(made.keys), made.starts, made.slots, raw)
        return made

    def _reset(self) -> None:
        self._generation = -1
        self._class_prefix: dict[str, Prefix] = {}
        self._counted: dict[tuple[str, ...], Prefix] = {}

    def nbytes(self) -> int:
        """About the memory this day holds of its own (a key's one shared string is not counted: 8 bytes each)."""
        counts = 0 if isinstance(self.counts, memoryview) else self.counts.itemsize * len(self.counts)
        return 8 * len(self.keys) + len(self.slots) + counts + self.starts.itemsize * len(self.starts)

    def class_prefix(self, classes: Classes) -> dict[str, Prefix]:
        generation = classes.generation  # read first: the map may change while this runs (in a thread)
        if self._generation != generation:
            per_class = self._sums(classes)
            self._class_prefix = {kind: _prefix(slots) for kind, slots in per_class.items()}
            self._counted = {}
            self._generation = generation
        return self._class_prefix

    def _sums(self, classes: Classes) -> dict[str, list[int]]:
        """Per class, the sum of each slot's counts."""
        per_class: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            kind = classes.kind(key)
            if kind is None:
                continue
            slots = per_class.setdefault(kind, [0] * SLOTS_PER_DAY)
            for j in range(self.starts[i], self.starts[i + 1]):
                slots[self.slots[j]] += self.counts[j]
        return per_class

    def counted_prefix(self, classes: Classes, counted: tuple[str, ...]) -> Prefix:
        """The running sum over the day's slots of the classes that count, together."""
        prefix = self.class_prefix(classes)
        found = self._counted.get(counted)
        if found is None:
            found = self._counted[counted] = combined(prefix, counted)
        return found

    def cells(self) -> dict[tuple[str, int], int]:
        """(key, slot) -> count, as the day was made from."""
        c, s, slots = self.counts, self.starts, self.slots
        return {(key, slots[j]): c[j] for i, key in enumerate(self.keys) for j in range(s[i], s[i + 1])}

    def key_totals(self) -> dict[str, int]:
        c, s = self.counts, self.starts
        return {key: sum(c[s[i] : s[i + 1]]) for i, key in enumerate(self.keys)}

    def key_set(self, first: int, end: int, index: list[array[int]] | None = None) -> set[str]:
        """The keys with anything in this run of slots (distinct users, when keys are users); `index`: the day's
        `slot_index`, if the caller keeps one (else it is built for this call)."""
        if (first, end) == (0, SLOTS_PER_DAY):
            return set(self.keys)
        by_slot = self.slot_index() if index is None else index
        keys, found = self.keys, set[str]()
        for slot in range(first, end):
            found.update(keys[i] for i in by_slot[slot])
        return found

    @staticmethod
    def index_bytes(by_slot: list[array[int]]) -> int:
        """About the memory a `slot_index` holds (an array's own header: 64 bytes)."""
        return sum(64 + a.itemsize * len(a) for a in by_slot)

    def slot_index(self) -> list[array[int]]:
        """Per slot, the indices of the keys with anything in it."""
        by_slot = _empty_index(len(self.keys))
        starts, slots = self.starts, self.slots
        for i in range(len(self.keys)):
            for j in range(starts[i], starts[i + 1]):
                by_slot[slots[j]].append(i)
        return by_slot

    def key_sums(self, first: int, end: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, key in enumerate(self.keys):
            n = sum(self.counts[j] for j in range(self.starts[i], self.starts[i + 1]) if first <= self.slots[j] < end)
            if n:
                out[key] = n
        return out

    def room_sums(self, rooms: Iterable[str], first: int, end: int) -> dict[str, int]:
        """Per key of these rooms (the room's own, flagged or not, and its room and author keys), its sum over
        the slots [first, end): found by bisection in the sorted keys, whatever the day's other rooms."""
        out: dict[str, int] = {}
        keys = self.keys
        for rid in rooms:
            n = len(rid)
            i = bisect_left(keys, rid)
            while i < len(keys) and keys[i].startswith(rid) and (len(keys[i]) == n or keys[i][n] in _SEPARATORS):
                total = self._sum_of(i, first, end)
                if total:
                    out[keys[i]] = total
                i += 1
        return out

    def _sum_of(self, i: int, first: int, end: int) -> int:
        a, b = self.starts[i], self.starts[i + 1]
        if (first, end) == (0, SLOTS_PER_DAY):
            return sum(self.counts[a:b])
        return sum(n for slot, n in zip(self.slots[a:b], self.counts[a:b], strict=True) if first <= slot < end)


class PresenceDay(ClosedDay):
    """A closed day whose every count is 1 (a day of sessions: a user is present in a slot or not), kept as each
    key's runs of slots, two bytes (first, end) a run, not a byte per slot: a session covers consecutive slots, so
    a user's day is a few runs. `starts[i]`: key i's first run; its runs are sorted, apart and not adjacent.
    `slots` and `counts` are not kept."""

    __slots__ = ("runs",)
    runs: bytes

    @classmethod
    def from_runs(cls, day: int, keys: list[str], starts: array[int], runs: bytes, raw: int) -> PresenceDay:
        self = cls.__new__(cls)
        self.day, self.raw, self.keys, self.starts, self.runs = day, raw, _shared(keys), _narrow_starts(starts), runs
        self._reset()
        return self

    @classmethod
    def from_slots(cls, day: int, keys: list[str], starts: array[int], slots: bytes, raw: int) -> PresenceDay:
        """Each key's slots (each once, in any order) as its runs."""
        runs, run_starts = bytearray(), array("I", [0])
        for i in range(len(keys)):
            mine = sorted(slots[starts[i] : starts[i + 1]])
            if mine:
                first = end = mine[0]
                for slot in mine:
                    if slot > end:
                        runs += bytes((first, end))
                        first = slot
                    end = slot + 1
                runs += bytes((first, end))
            run_starts.append(len(runs) // 2)
        return cls.from_runs(day, keys, run_starts, bytes(runs), raw)

    def runs_of(self, i: int) -> list[tuple[int, int]]:
        runs = self.runs
        return [(runs[2 * r], runs[2 * r + 1]) for r in range(self.starts[i], self.starts[i + 1])]

    def nbytes(self) -> int:
        return 8 * len(self.keys) + len(self.runs) + self.starts.itemsize * len(self.starts)

    def _sums(self, classes: Classes) -> dict[str, list[int]]:
        """Per class, how many of its keys are present in each slot: over each run of keys of one class (a day
        of sessions is one or a few such runs), the runs that begin minus those that end at or before a slot,
        counted in C."""
        per_class: dict[str, list[int]] = {}
        keys, starts, n = self.keys, self.starts, len(self.keys)
        i = 0
        while i < n:
            kind, j = classes.kind(keys[i]), i + 1
            while j < n and classes.kind(keys[j]) == kind:
                j += 1
            if kind is not None:
                part = self.runs[2 * starts[i] : 2 * starts[j]]
                firsts, ends = part[0::2], part[1::2]
                sums = per_class.setdefault(kind, [0] * SLOTS_PER_DAY)
                present = 0
                for slot in range(SLOTS_PER_DAY):
                    mark = _SLOT_BYTES[slot]
                    present += firsts.count(mark) - ends.count(mark)
                    sums[slot] += present
            i = j
        return per_class

    def cells(self) -> dict[tuple[str, int], int]:
        return {(key, slot): 1 for i, key in enumerate(self.keys) for a, b in self.runs_of(i) for slot in range(a, b)}

    def key_totals(self) -> dict[str, int]:
        return {key: sum(b - a for a, b in self.runs_of(i)) for i, key in enumerate(self.keys)}

    def slot_index(self) -> list[array[int]]:
        by_slot = _empty_index(len(self.keys))
        for i in range(len(self.keys)):
            for a, b in self.runs_of(i):
                for slot in range(a, b):
                    by_slot[slot].append(i)
        return by_slot

    def key_sums(self, first: int, end: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, key in enumerate(self.keys):
            n = sum(max(0, min(b, end) - max(a, first)) for a, b in self.runs_of(i))
            if n:
                out[key] = n
        return out

    def _sum_of(self, i: int, first: int, end: int) -> int:
        return sum(max(0, min(b, end) - max(a, first)) for a, b in self.runs_of(i))


class OpenDay:
    """A day still open: counts that grow one document at a time. A key whose class is not known yet when its
    document arrives is held apart (`unfolded`) until the engine has looked it up, then folded in."""

    __slots__ = (
        "_by_class",
        "_generation",
        "by_room",
        "by_slot",
        "cells",
        "day",
        "ongoing",
        "touched",
        "unchecked",
        "unfolded",
        "version",
    )

    def __init__(self, day: int, cells: Mapping[tuple[str, int], int]):
        self.day = day
        self.cells: dict[str, dict[int, int]] = {}
        # Per slot, its keys, each once: a list, smaller than a set, as `add` appends a key at its first count there.
        self.by_slot: list[list[str]] = [[] for _ in range(SLOTS_PER_DAY)]
        self.by_room: dict[str, list[str]] = {}  # a room's keys (its own, flagged, its authors'): scoped reads
        self.ongoing: dict[str, tuple[int, int]] = {}  # key -> (first slot, bound slot) of its open intervals
        for (key, slot), n in cells.items():
            if n:
                if key not in self.cells:
                    self.by_room.setdefault(room_of(key), []).append(key)
                self.cells.setdefault(key, {})[slot] = n
                self.by_slot[slot].append(key)
        self.version = 0
        # Per key, the version of its last change: what changed since a version, without a pass over the counts.
        self.touched: dict[str, int] = {}
        # Until the first fold no copy of the snapshot's cells is held here: that fold reads every key from `cells`.
        self.unfolded: dict[str, dict[int, int]] = {}
        # The keys whose class has not been seen known (an ordered set): the snapshot's, then those unknown when
        # added. Every read looks them up first: a set that only shrinks, not a pass over every key of the day.
        self.unchecked: dict[str, None] = dict.fromkeys(self.cells)
        self._by_class: dict[str, list[int]] = {}
        self._generation = -1

    def pending_keys(self) -> Iterable[str]:
        """The keys whose class a read (and the next `class_prefix`) needs known and that have not been seen known
        (see `looked_up`)."""
        return self.unchecked.keys()

    def looked_up(self, keys: Iterable[str], classes: Classes) -> None:
        """These pending keys were looked up (`classes.ensure`): those `classes` knows now are pending no more."""
        unchecked = self.unchecked
        for key in keys:
            if key in unchecked and classes.knows(key):
                del unchecked[key]

    def add(self, key: str, slot: int, classes: Classes) -> None:
        slots = self.cells.get(key)
        if slots is None:
            slots = self.cells[key] = {}
            self.by_room.setdefault(room_of(key), []).append(key)
        if slot not in slots:
            self.by_slot[slot].append(key)
        slots[slot] = slots.get(slot, 0) + 1
        self.version += 1
        self.touched[key] = self.version
        known = classes.knows(key)
        if not known:
            self.unchecked[key] = None
        if key in self.unfolded or not known or self._generation != classes.generation:
            held = self.unfolded.setdefault(key, {})
            held[slot] = held.get(slot, 0) + 1
        elif (kind := classes.kind(key)) is not None:
            self._by_class.setdefault(kind, [0] * SLOTS_PER_DAY)[slot] += 1

    def class_prefix(self, classes: Classes) -> dict[str, Prefix]:
        """The keys of `pending_keys` are looked up first (the engine does); a key added since, while that lookup
        was awaited, stays held apart until a later one knows its class, rather than being folded in as a key of
        no class (its counts lost to every later sum)."""
        pending = self.unfolded
        if self._generation != classes.generation:  # every key again, by its class now
            self._by_class, pending = {}, self.cells
            self._generation = classes.generation
        held: dict[str, dict[int, int]] = {}
        for key, slots in pending.items():
            if not classes.knows(key):
                held[key] = dict(slots)  # a copy, never a day's `cells`: a later add would count twice
                continue
            kind = classes.kind(key)
            if kind is not None:
                sums = self._by_class.setdefault(kind, [0] * SLOTS_PER_DAY)
                for slot, n in slots.items():
                    sums[slot] += n
        self.unfolded = held
        self.looked_up(list(self.unchecked), classes)
        return {kind: _prefix(slots) for kind, slots in self._by_class.items()}

    def counted_prefix(self, classes: Classes, counted: tuple[str, ...]) -> Prefix:
        return combined(self.class_prefix(classes), counted)

    def key_totals(self) -> dict[str, int]:
        return {key: sum(slots.values()) for key, slots in self.cells.items()}

    def begin(self, key: str, first: int, bound: int) -> None:
        """An interval still open covers the day's slots from `first` (up to now, never to `bound`)."""
        known = self.ongoing.get(key)
        self.ongoing[key] = (first, bound) if known is None else (min(known[0], first), max(known[1], bound))
        self.version += 1
        self.touched[key] = self.version

    def changed_since(self, version: int) -> list[str]:
        """The keys counted or begun after `version` (an earlier `version` of this day)."""
        return [key for key, v in self.touched.items() if v > version]

    def key_set(self, first: int, end: int) -> set[str]:
        found: set[str] = set()
        for slot in range(first, end):
            found.update(self.by_slot[slot])
        if self.ongoing:
            now = slot_of(datetime.now(UTC)) - self.day * SLOTS_PER_DAY + 1  # the slot holding now is touched
            for key, (lo, bound) in self.ongoing.items():
                if max(lo, first) < min(end, bound, now):
                    found.add(key)
        return found

    def key_sums(self, first: int, end: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, slots in self.cells.items():
            n = sum(v for slot, v in slots.items() if first <= slot < end)
            if n:
                out[key] = n
        return out

    def room_sums(self, rooms: Iterable[str], first: int, end: int) -> dict[str, int]:
        """As ClosedDay's: each room's keys looked up (`by_room`), whatever the day's other rooms."""
        out: dict[str, int] = {}
        for rid in rooms:
            for key in self.by_room.get(rid, ()):
                n = sum(v for slot, v in self.cells[key].items() if first <= slot < end)
                if n:
                    out[key] = n
        return out

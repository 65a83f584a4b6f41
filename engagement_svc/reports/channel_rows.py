"""A channel list's rows: each room's counts (messages in the range and the one before, posters, last day
posted), their order, and a list sorted by a count kept in order across new messages (`LiveRows`): only the rooms
counted since move, so a new message never costs a sort of every room."""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, overload

from engagement_svc.counting.catalog import MESSAGES, PART, POSTS, unflagged
from engagement_svc.counting.slots import Span, span_of_seconds
from engagement_svc.reports.last_days import NEVER, last_before
from engagement_svc.reports.queries import ListQuery
from engagement_svc.reports.rooms import ROOM_TYPE_ORDER
from engagement_svc.reports.sources import RoomSet, Sources
from engagement_svc.reports.windows import range_and_before

SILENT_TYPES = ("c", "p")  # the rooms that can be orphaned: channels and private groups


class Row(NamedTuple):
    rid: str
    messages: int  # in the range
    previous: int  # in the range before it (Rocket.Chat's `lastWeekMessages`, whatever the range's length)
    posters: int = 0  # distinct authors in the range
    last: int = NEVER  # the local midnight of the last day with a message, on or before the range's last day

    @property
    def diff(self) -> int:
        return self.messages - self.previous


class Rows(Sequence[Row]):
    """Rows kept compactly, in order: the room ids in one tuple and the counts in arrays, about 40 bytes a row
    instead of about 120 as Row tuples (a channel list is remembered whole: 50,000 rooms at 20M messages)."""

    __slots__ = ("_columns", "_rids")

    def __init__(self, found: Iterable[Row]):
        found = list(found)
        self._rids = tuple(r.rid for r in found)
        self._columns = tuple(array("q", column) for column in list(zip(*found, strict=True))[1:]) if found else ()

    def __len__(self) -> int:
        return len(self._rids)

    @overload
    def __getitem__(self, i: int) -> Row: ...

    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...

    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [Row(*cells) for cells in zip(self._rids[i], *(c[i] for c in self._columns), strict=True)]
        return Row(self._rids[i], *(c[i] for c in self._columns))

    @property
    def nbytes(self) -> int:
        """About the memory the rows hold of their own (the room ids are the kept days' strings)."""
        return 100 + 40 * len(self._rids)


def rows(current: Mapping[str, int], previous: Mapping[str, int], kind_of: Callable[[str], str | None]) -> list[Row]:
    """Every room of type c, p or d (that exists) with a message in the range or in the previous one."""
    out = []
    for rid in current.keys() | previous.keys():
        m, p = current.get(rid, 0), previous.get(rid, 0)
        if (m or p) and kind_of(rid) in ROOM_TYPE_ORDER:
            out.append(Row(rid, m, p))
    return out


def display_name(room: Mapping[str, Any]) -> str | None:
    """The list's name: `name`, else `fname` (top five prefers `fname`, as Rocket.Chat does)."""
    name = room.get("name") or room.get("fname")
    return name if isinstance(name, str) and name else None


def members_of(room: Mapping[str, Any]) -> int:
    """The room's stored member count (`usersCount`), 0 when it has none."""
    count = room.get("usersCount")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def _room_value(room: Mapping[str, Any] | None, field: str) -> tuple[int, str | float]:
    """A sortable value of the room's field: rooms without it first (ascending)."""
    if room is None:
        return (0, "")
    if field == "members":
        return (1, members_of(room))
    value = display_name(room) if field == "name" else room.get(field)
    if field == "name":
        return (1, value) if value is not None else (0, "")
    return (1, value.timestamp()) if isinstance(value, datetime) else (0, 0.0)


def ordered(
    found: list[Row], sort: str, descending: bool, rooms: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Row]:
    """The rows by `sort` (a count, or a room field from `rooms`), ties by room id ascending either way."""
    found = sorted(found, key=lambda r: r.rid)
    if sort == "messages":
        found.sort(key=lambda r: r.messages, reverse=descending)
    elif sort == "lastWeekMessages":
        found.sort(key=lambda r: r.previous, reverse=descending)
    elif sort == "diffFromLastWeek":
        found.sort(key=lambda r: r.diff, reverse=descending)
    elif sort == "posters":
        found.sort(key=lambda r: r.posters, reverse=descending)
    elif sort == "lastPosted":
        found.sort(key=lambda r: r.last, reverse=descending)  # NEVER: below every day
    else:
        assert rooms is not None
        found.sort(key=lambda r: _room_value(rooms.get(r.rid), sort), reverse=descending)
    return found


def _apart(s: Span, open_s: int) -> tuple[Span | None, Span | None]:
    """A span's part before the open days and its part in them (None: no such part)."""
    if s.hi_s <= open_s:
        return s, None
    if s.lo_s >= open_s:
        return None, s
    return span_of_seconds(s.lo_s, open_s), span_of_seconds(open_s, s.hi_s)


class Part(NamedTuple):
    """Per room, what a part of the time (the closed days, or the open ones) gives its row."""

    current: Mapping[str, int]
    previous: Mapping[str, int]
    posters: Mapping[str, int]  # the closed part's distinct authors; the open part's authors not among them
    last: Mapping[str, int]


class ClosedPosters:
    """Of the (room, author) pairs with messages in the open part, those also in the closed part: to tell an author
    new to the range. Looked up for the pairs alone (one aggregation of those rooms and authors) when they first
    post in the open days, and held as long as the list is: never every (room, author) of the range, nor every
    author of a room posted in today (millions, and hundreds of thousands, in a month of a big server)."""

    def __init__(self, closed_range: Span | None, posted: tuple[str, ...]):
        self.closed_range, self.posted = closed_range, posted
        self.asked: dict[str, set[str]] = {}  # per room, the open part's authors looked up
        self.known: dict[str, set[str]] = {}  # of those, the ones in the closed part too
        self.counted: Mapping[str, int] | None = None  # per room, its closed part's posters, once counted
        self.scope: frozenset[str] | None = None  # the rooms they were counted for (None: every room)

    def closed_part(self, posters: Mapping[str, int], rooms: frozenset[str] | None) -> None:
        """The closed part's posters per room, counted for these rooms (None: all): a room with none there needs
        no look-up, each of its open part's authors is new (most rooms of a short range at 100,000 rooms)."""
        self.counted, self.scope = posters, rooms

    def _none_closed(self, rid: str) -> bool:
        return self.counted is not None and (self.scope is None or rid in self.scope) and not self.counted.get(rid)

    async def new_posters(self, sources: Sources, keys: Iterable[str]) -> dict[str, int]:
        """Per room, how many of these open-part (room, author) keys are not among its closed part's authors."""
        by_room: dict[str, list[str]] = {}
        for key in keys:
            rid, author = key.split(PART, 1)
            by_room.setdefault(rid, []).append(author)
        unknown = {rid: {a for a in authors if a not in self.asked.get(rid, ())} for rid, authors in by_room.items()}
        unknown = {rid: authors for rid, authors in unknown.items() if authors}
        asked = {rid: authors for rid, authors in unknown.items() if not self._none_closed(rid)}
        if asked and self.closed_range is not None:
            among = frozenset(a for authors in asked.values() for a in authors)
            found = await sources.counts.subjects(POSTS, self.closed_range, self.posted, frozenset(asked), among)
            for rid, authors in asked.items():
                self.known.setdefault(rid, set()).update(authors & found.get(rid, frozenset()))
        for rid, authors in unknown.items():
            self.asked.setdefault(rid, set()).update(authors)
        out = {}
        for rid, written in by_room.items():
            n = sum(1 for author in written if author not in self.known.get(rid, ()))
            if n:
                out[rid] = n
        return out

    @property
    def held(self) -> int:
        return len(self.asked) + sum(len(authors) for authors in self.asked.values())


async def _part(
    sources: Sources, q: ListQuery, open_s: int, closed: bool, posters: ClosedPosters, rooms: RoomSet = None
) -> Part:
    """The closed (or open) part of every row's counts, or of these rooms' rows alone (a team's; the open part of
    the rooms posted in since): each read scoped to them, so that a team's list reads its rooms' messages only."""
    in_range, before = (_apart(s, open_s)[0 if closed else 1] for s in range_and_before(q, sources.calendar))
    counted, posted = MESSAGES.counted_for(q.bots), POSTS.counted_for(q.bots)
    current = await sources.counts.sums_by_key(MESSAGES, in_range, counted, rooms) if in_range else {}
    previous = await sources.counts.sums_by_key(MESSAGES, before, counted, rooms) if before else {}
    days = sources.calendar.day_spans(q.zone, q.first_day, q.last_day)
    cut = 0
    while cut < len(days) and days[cut].hi_s <= open_s:
        cut += 1
    last: dict[str, int] = {}
    if closed:
        authors = await sources.counts.subject_counts(POSTS, in_range, posted, rooms) if in_range else {}
        last = await last_before(sources, q, MESSAGES, counted, rooms)
        if cut:
            _, found = await sources.counts.presence(MESSAGES, days[:cut], counted, rooms)
            last.update((rid, days[i].lo_s) for rid, i in found.items())
        return Part(current, previous, authors, last)
    authors = {}
    if in_range:
        authors = await posters.new_posters(sources, await sources.counts.sums_by_key(POSTS, in_range, posted, rooms))
    if cut < len(days):
        for i, keys in enumerate(await sources.counts.key_lists(MESSAGES, days[cut:], counted, rooms)):
            last.update(dict.fromkeys(keys, days[cut + i].lo_s))
    return Part(current, previous, authors, last)


MOVES = 2_000  # more rooms changed than this at once (a recount of an open day): sorted again whole


class LiveRows:
    """A channel list sorted by a count, kept across new messages: each row is its closed part (counted once
    while the kept days, the open days' edge and the rooms stay the same) plus its open part (read anew when
    the counts change). Only the rooms whose open part changed are taken out of the order and put back in
    (bisected, ties by room id ascending either way, as `ordered`), so a new message costs the open days' keys,
    not a sort of every room (about 400 ms at 100,000 rooms)."""

    def __init__(self, q: ListQuery, open_s: int, closed: Part, posters: ClosedPosters, chosen: Any, team: Any):
        self.sort, self.descending, self.open_s = q.sort, q.descending, open_s
        self.activity, self.hide = q.activity, q.hide
        self.closed, self.posters, self.chosen, self.team = closed, posters, chosen, team
        self.open = Part({}, {}, {}, {})
        self.order: list[str] = []
        self.shared = False  # the order handed out to an answer: copied before it changes
        self.stamp: tuple[Hashable, ...] | None = None

    @classmethod
    async def build(
        cls, sources: Sources, q: ListQuery, team: frozenset[str] | None, open_s: int, stamp: Any
    ) -> LiveRows:
        in_range, _ = range_and_before(q, sources.calendar)
        closed_range = _apart(in_range, open_s)[0]
        posters = ClosedPosters(closed_range, POSTS.counted_for(q.bots))
        chosen: Mapping[str, str] | None = None
        if q.activity == "silent":
            chosen = await sources.rooms.every(SILENT_TYPES, q.team)
        elif not q.hide:
            chosen = await sources.rooms.every(ROOM_TYPE_ORDER, q.team)
        live = cls(q, open_s, await _part(sources, q, open_s, True, posters, team), posters, chosen, team)
        posters.closed_part(live.closed.posters, team)
        live.open = await _part(sources, q, open_s, False, posters, team)
        live.stamp = stamp
        c = live.closed
        found = chosen if chosen is not None else (c.current.keys() | c.previous.keys() | live.open.current.keys())
        if chosen is None:
            found |= live.open.previous.keys()
        live.order = [
            r.rid
            for r in ordered(
                [r for r in map(live.row, found) if live.shows(r, sources.rooms.kind)], q.sort, q.descending
            )
        ]
        return live

    def row(self, rid: str, part: Part | None = None) -> Row:
        c, o = self.closed, part or self.open
        last = max(c.last.get(rid, NEVER), o.last.get(rid, NEVER))
        posters = c.posters.get(rid, 0) + o.posters.get(rid, 0)
        return Row(
            rid,
            c.current.get(rid, 0) + o.current.get(rid, 0),
            c.previous.get(rid, 0) + o.previous.get(rid, 0),
            posters,
            last,
        )

    def shows(self, row: Row, kind: Callable[[str], str | None]) -> bool:
        if self.activity == "silent":
            return row.messages == 0 and self.chosen is not None and row.rid in self.chosen
        if not self.hide:
            return self.chosen is not None and row.rid in self.chosen
        if not (row.messages or row.previous) or (self.team is not None and row.rid not in self.team):
            return False
        return kind(row.rid) in ROOM_TYPE_ORDER

    def sort_key(self, part: Part) -> Callable[[str], tuple[int, str]]:
        value = _VALUES[self.sort]
        sign = -1 if self.descending else 1
        return lambda rid: (sign * value(self.row(rid, part)), rid)

    async def update(self, sources: Sources, q: ListQuery, stamp: Any) -> None:
        """The open part read anew (only the rooms counted since, when the engine can tell which); the rooms whose
        part changed moved to their new place."""
        old = self.open
        rooms = self._counted_since(sources, stamp)
        if rooms is None:
            new = await _part(sources, q, self.open_s, False, self.posters, self.team)
            changed: set[str] = set()
            for a, b in zip(old, new, strict=True):
                changed.update(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        else:
            fresh = await _part(sources, q, self.open_s, False, self.posters, rooms) if rooms else Part({}, {}, {}, {})
            new = Part(*(_replaced(a, b, rooms) for a, b in zip(old, fresh, strict=True)))
            changed = {rid for rid in rooms if any(a.get(rid) != b.get(rid) for a, b in zip(old, new, strict=True))}
        if self.shared:
            self.order, self.shared = list(self.order), False
        order = self.order
        if len(changed) > MOVES:
            self.open = new
            every = set(order) | changed
            kept = [r for r in map(self.row, every) if self.shows(r, sources.rooms.kind)]
            self.order = [r.rid for r in ordered(kept, self.sort, self.descending)]
        else:
            before = self.sort_key(old)
            for rid in changed:
                i = bisect_left(order, before(rid), key=before)
                if i < len(order) and order[i] == rid:
                    del order[i]
            self.open = new
            after = self.sort_key(new)
            for rid in changed:
                if self.shows(self.row(rid), sources.rooms.kind):
                    insort(order, rid, key=after)
        self.stamp = stamp

    def _counted_since(self, sources: Sources, stamp: Any) -> frozenset[str] | None:
        """The rooms with messages counted since the rows' stamp, when the engine can tell and nothing else changed
        (the rooms chosen, say); else None: the open part is read whole."""
        then = self.stamp
        if then is None or stamp is None or then[2:] != stamp[2:]:
            return None
        keys: set[str] = set()
        for metric, since in ((MESSAGES, then[0]), (POSTS, then[1])):
            found = sources.counts.changed_keys(metric, since) if isinstance(since, tuple) else None
            if found is None:
                return None
            keys |= found
        rooms = frozenset(unflagged(key).split(PART, 1)[0] for key in keys)
        return rooms if self.team is None else rooms & self.team  # a team's list: its rooms' open part alone

    def rows(self) -> LiveView:
        self.shared = True
        return LiveView(self, self.order, self.open)

    def __len__(self) -> int:
        return len(self.order)

    @property
    def nbytes(self) -> int:
        """About what it holds of its own: the order, the closed part's counts, posters and last days, the rooms
        chosen, and the closed part's authors of the rooms posted in since."""
        c = self.closed
        held = len(c.current) + len(c.previous) + len(c.posters) + len(c.last) + len(self.chosen or ())
        return 200 + 8 * len(self.order) + 40 * held + 60 * self.posters.held


def _replaced(old: Mapping[str, int], fresh: Mapping[str, int], rooms: frozenset[str]) -> dict[str, int]:
    """`old` with the entries of these rooms taken from `fresh` (a copy: the old part may be in an answer)."""
    out = dict(old)
    for rid in rooms:
        out.pop(rid, None)
    out.update(fresh)
    return out


_VALUES: dict[str, Callable[[Row], int]] = {
    "messages": lambda r: r.messages,
    "lastWeekMessages": lambda r: r.previous,
    "diffFromLastWeek": lambda r: r.diff,
    "posters": lambda r: r.posters,
    "lastPosted": lambda r: r.last,
}


class LiveView(Sequence[Row]):
    """The rows of a `LiveRows` as of one answer: its order and open part then (a later message changes neither)."""

    def __init__(self, live: LiveRows, order: list[str], part: Part):
        self._live, self._order, self._part = live, order, part

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, i: int) -> Row: ...

    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...

    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [self._live.row(rid, self._part) for rid in self._order[i]]
        return self._live.row(self._order[i], self._part)

"""channels/list: every room with messages in the range or the one before (or, asked: every room, zeros included;
the silent channels and groups, without a message in the range), of one team when asked, ordered, one page of it
(its CSV: every row). Each row has its messages, those of the range before, its posters and last day posted, and
its members. The counts and the rooms' documents come in through the report's sources; JSON (or CSV rows) goes
out."""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left, insort
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, overload

from engagement_svc.counting.catalog import MESSAGES, PART, POSTS
from engagement_svc.counting.slots import Span, span_of_seconds
from engagement_svc.days import iso_z
from engagement_svc.reports.csv import Lines, cell, line
from engagement_svc.reports.last_days import NEVER, last_before, last_days
from engagement_svc.reports.queries import LIST, ListQuery
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import ROOM_RETRIES, ROOM_TYPE_ORDER, existing_rooms, team_rooms
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import range_and_before

ROOM_SORTS = ("name", "ts", "_updatedAt", "members")  # sorts that need every row's room document, not the counts
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


def posters_of(per_key: Mapping[str, int]) -> dict[str, int]:
    """Distinct authors per room, from counts per room and author."""
    out: dict[str, int] = {}
    for key in per_key:
        rid = key.split(PART, 1)[0]
        out[rid] = out.get(rid, 0) + 1
    return out


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


def room_json(room: Mapping[str, Any]) -> dict[str, Any]:
    """The row's `room`: `_id`, `name` (absent without one), `t`, `ts`, `_updatedAt`, and `usernames` only when
    the room has them."""
    out: dict[str, Any] = {"_id": room["_id"]}
    name = display_name(room)
    if name is not None:
        out["name"] = name
    out["t"] = room.get("t")
    for field in ("ts", "_updatedAt"):
        if isinstance(room.get(field), datetime):
            out[field] = iso_z(room[field])
    if isinstance(room.get("usernames"), list):
        out["usernames"] = room["usernames"]
    return out


def row_json(row: Row, room: Mapping[str, Any], iso: Callable[[int], str]) -> dict[str, Any]:
    return {
        "room": room_json(room),
        "messages": row.messages,
        "lastWeekMessages": row.previous,
        "diffFromLastWeek": row.diff,
        "posters": row.posters,
        "lastPosted": None if row.last == NEVER else iso(row.last),
        "members": members_of(room),
    }


def list_json(page: Iterable[tuple[Row, Mapping[str, Any]]], total: int, offset: int, iso: Callable[[int], str]) -> str:
    channels = [row_json(row, room, iso) for row, room in page]
    body = {"channels": channels, "total": total, "offset": offset, "count": len(channels), "success": True}
    return json.dumps(body, separators=(",", ":"))


def csv_cells(row: Row, room: Mapping[str, Any], iso: Callable[[int], str]) -> list[str]:
    """`Room type;Name;Messages;Last Update Date;Creation Date;Posters;Last Posted;Members`."""
    updated, created = room.get("_updatedAt"), room.get("ts")
    return [
        str(room.get("t") or ""),
        display_name(room) or ", ".join(u for u in room.get("usernames") or () if isinstance(u, str)),
        str(row.messages),
        iso_z(updated) if isinstance(updated, datetime) else "",
        iso_z(created) if isinstance(created, datetime) else "",
        str(row.posters),
        "" if row.last == NEVER else iso(row.last),
        str(members_of(room)),
    ]


# -- the answer ---------------------------------------------------------------------------------------------------
async def channel_rows(sources: Sources, q: ListQuery) -> Sequence[Row]:
    """Every row of the query, in the requested order. Sorted by a count, the rows are kept in order while the
    closed days' counts and the rooms stay the same; a new message moves only the rooms whose open days' counts
    changed (see `LiveRows`). Sorts by a room's field read every row's room."""
    team = await team_rooms(sources.rooms, q.team)  # no such team: a 400 before anything is counted
    if q.sort in ROOM_SORTS:
        return await _counted_rows(sources, q, team)
    stamp = _stamp(sources, q)
    open_s, edge = _edge(sources, q)
    key = REPORT.key(q)
    live = sources.counts.remembered(key, edge if stamp is not None else None)
    if isinstance(live, LiveRows):
        if live.stamp != stamp:
            await live.update(sources, q, stamp)
        return live.rows()
    in_range, before = range_and_before(q, sources.calendar)
    if not (in_range.on_slots and before.on_slots):  # a span off the slots (offsets before 1980): all at once
        return Rows(await _counted_rows(sources, q, team))
    live = await LiveRows.build(sources, q, team, open_s, stamp)
    sources.counts.remember(key, edge if stamp is not None else None, live)
    return live.rows()


def _stamp(sources: Sources, q: ListQuery) -> tuple[Hashable, ...] | None:
    """What the rows depend on: the messages' and posters' counts, and the rooms when rows are chosen by them."""
    parts: list[Hashable | None] = [sources.counts.stamp(MESSAGES), sources.counts.stamp(POSTS)]
    if q.activity == "silent" or not q.hide or q.team is not None:
        parts.append(sources.rooms.version())
    return None if any(p is None for p in parts) else tuple(parts)


def _edge(sources: Sources, q: ListQuery) -> tuple[int, tuple[Hashable, ...]]:
    """Where the open days begin, and what the rows' closed part depends on (the rooms too, as for `_stamp`)."""
    open_s, messages = sources.counts.open_edge(MESSAGES)
    _, posts = sources.counts.open_edge(POSTS)
    parts: tuple[Hashable, ...] = (messages, posts)
    if q.activity == "silent" or not q.hide or q.team is not None:
        parts += (sources.rooms.version(),)
    return open_s, parts


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


async def _part(sources: Sources, q: ListQuery, open_s: int, closed: bool, posts: Mapping[str, int]) -> Part:
    """The closed (or open) part of every row's counts; `posts`: the closed part's authors per room."""
    in_range, before = (_apart(s, open_s)[0 if closed else 1] for s in range_and_before(q, sources.calendar))
    counted, posted = MESSAGES.counted_for(q.bots), POSTS.counted_for(q.bots)
    current = await sources.counts.sums_by_key(MESSAGES, in_range, counted) if in_range else {}
    previous = await sources.counts.sums_by_key(MESSAGES, before, counted) if before else {}
    days = sources.calendar.day_spans(q.zone, q.first_day, q.last_day)
    cut = 0
    while cut < len(days) and days[cut].hi_s <= open_s:
        cut += 1
    last: dict[str, int] = {}
    if closed:
        authors = posters_of(posts)
        last = await last_before(sources, q, MESSAGES, counted)
        if cut:
            _, found = await sources.counts.presence(MESSAGES, days[:cut], counted)
            last.update((rid, days[i].lo_s) for rid, i in found.items())
        return Part(current, previous, authors, last)
    authors = {}
    if in_range:
        for k in await sources.counts.sums_by_key(POSTS, in_range, posted):
            if k not in posts:
                rid = k.split(PART, 1)[0]
                authors[rid] = authors.get(rid, 0) + 1
    if cut < len(days):
        for i, keys in enumerate(await sources.counts.key_lists(MESSAGES, days[cut:], counted)):
            last.update(dict.fromkeys(keys, days[cut + i].lo_s))
    return Part(current, previous, authors, last)


MOVES = 2_000  # more rooms changed than this at once (a recount of an open day): sorted again whole


class LiveRows:
    """A channel list sorted by a count, kept across new messages: each row is its closed part (counted once
    while the kept days, the open days' edge and the rooms stay the same) plus its open part (read anew when
    the counts change). Only the rooms whose open part changed are taken out of the order and put back in
    (bisected, ties by room id ascending either way, as `ordered`), so a new message costs the open days' keys,
    not a sort of every room (about 400 ms at 100,000 rooms)."""

    def __init__(self, q: ListQuery, open_s: int, closed: Part, posts: Mapping[str, int], chosen: Any, team: Any):
        self.sort, self.descending, self.open_s = q.sort, q.descending, open_s
        self.activity, self.hide = q.activity, q.hide
        self.closed, self.posts, self.chosen, self.team = closed, posts, chosen, team
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
        posts = await sources.counts.sums_by_key(POSTS, closed_range, POSTS.counted_for(q.bots)) if closed_range else {}
        chosen: Mapping[str, str] | None = None
        if q.activity == "silent":
            chosen = await sources.rooms.every(SILENT_TYPES, q.team)
        elif not q.hide:
            chosen = await sources.rooms.every(ROOM_TYPE_ORDER, q.team)
        live = cls(q, open_s, await _part(sources, q, open_s, True, posts), posts, chosen, team)
        live.open = await _part(sources, q, open_s, False, posts)
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
        """The open part read anew; the rooms whose part changed moved to their new place."""
        new = await _part(sources, q, self.open_s, False, self.posts)
        old = self.open
        changed: set[str] = set()
        for a, b in zip(old, new, strict=True):
            changed.update(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if self.shared:
            self.order, self.shared = list(self.order), False
        order = self.order
        if len(changed) > MOVES:
            self.open = new
            rooms = set(order) | changed
            kept = [r for r in map(self.row, rooms) if self.shows(r, sources.rooms.kind)]
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

    def rows(self) -> LiveView:
        self.shared = True
        return LiveView(self, self.order, self.open)

    def __len__(self) -> int:
        return len(self.order)

    @property
    def nbytes(self) -> int:
        """About what it holds of its own: the order, the closed part's posters and last days, the rooms chosen
        (its sums are the reader's remembered ones)."""
        held = len(self.closed.posters) + len(self.closed.last) + len(self.chosen or ())
        return 200 + 8 * len(self.order) + 40 * held


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


async def _counted_rows(sources: Sources, q: ListQuery, team: frozenset[str] | None) -> list[Row]:
    """`team`: the rooms of the team asked (None: every room)."""
    in_range, before = range_and_before(q, sources.calendar)
    counted = MESSAGES.counted_for(q.bots)
    current = await sources.counts.sums_by_key(MESSAGES, in_range, counted)
    previous = await sources.counts.sums_by_key(MESSAGES, before, counted)
    if q.activity == "silent":  # whatever the range before, and whatever `hide` says
        chosen = await sources.rooms.every(SILENT_TYPES, q.team)
        found = [Row(rid, 0, previous.get(rid, 0)) for rid in chosen if not current.get(rid)]
    elif not q.hide:
        chosen = await sources.rooms.every(ROOM_TYPE_ORDER, q.team)
        found = [Row(rid, current.get(rid, 0), previous.get(rid, 0)) for rid in chosen]
    else:
        found = rows(current, previous, sources.rooms.kind)
        if team is not None:
            found = [r for r in found if r.rid in team]
    posters = posters_of(await sources.counts.sums_by_key(POSTS, in_range, POSTS.counted_for(q.bots)))
    days = sources.calendar.day_spans(q.zone, q.first_day, q.last_day)
    _, last = await last_days(sources, q, days, MESSAGES, counted)
    found = [r._replace(posters=posters.get(r.rid, 0), last=last.get(r.rid, NEVER)) for r in found]
    if q.sort in ROOM_SORTS:
        rooms = await sources.rooms.documents([r.rid for r in found])
        return ordered([r for r in found if r.rid in rooms], q.sort, q.descending, rooms)
    return ordered(found, q.sort, q.descending)


async def json_answer(sources: Sources, q: ListQuery) -> str:
    for _ in range(ROOM_RETRIES):
        found = await channel_rows(sources, q)
        page = found[q.offset : q.offset + q.count]
        rooms, complete = await existing_rooms(sources.rooms, [r.rid for r in page])
        if complete:
            break
    iso = sources.calendar.iso_seconds
    return list_json(((r, rooms[r.rid]) for r in page if r.rid in rooms), len(found), q.offset, iso)


CSV_BATCH = 1000  # rooms read at a time as the CSV is streamed


async def csv_lines(sources: Sources, q: ListQuery) -> Lines:
    """Every row of the range (not one page), the rooms read a thousand at a time as the answer is streamed."""
    found = await channel_rows(sources, q)

    async def stream() -> AsyncIterator[str]:
        for i in range(0, len(found), CSV_BATCH):
            batch = found[i : i + CSV_BATCH]
            rooms = await sources.rooms.documents([r.rid for r in batch])
            for row in batch:
                room = rooms.get(row.rid)
                if room is not None:
                    cells = csv_cells(row, room, sources.calendar.iso_seconds)
                    yield line(cell(v, text=j == 1) for j, v in enumerate(cells))

    return stream()


REPORT = Report(
    path=f"{DASHBOARD}/channels/list",
    summary="every room with messages in the range or the one before (or every room, or the silent ones), one page",
    params=LIST,
    json=json_answer,
    csv=csv_lines,
    csv_name="channels-list",
    csv_header=(
        "Room type",
        "Name",
        "Messages",
        "Last Update Date",
        "Creation Date",
        "Posters",
        "Last Posted",
        "Members",
    ),
)

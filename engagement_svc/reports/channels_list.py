"""channels/list: every room with messages in the range or the one before, ordered, one page of it (its CSV: every
row). The counts and the rooms' documents come in through the report's sources; JSON (or CSV rows) goes out."""

from __future__ import annotations

import json
from array import array
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, overload

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.days import iso_z
from engagement_svc.reports.csv import Lines, cell, line
from engagement_svc.reports.queries import LIST, ListQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import ROOM_RETRIES, ROOM_TYPE_ORDER, existing_rooms
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import range_and_before

ROOM_SORTS = ("name", "ts", "_updatedAt")  # sorts that need every row's room document, not only the counts


class Row(NamedTuple):
    rid: str
    messages: int  # in the range
    previous: int  # in the range before it (Rocket.Chat's `lastWeekMessages`, whatever the range's length)

    @property
    def diff(self) -> int:
        return self.messages - self.previous


class Rows(Sequence[Row]):
    """Rows kept compactly, in order: the room ids in one tuple and the two counts in two arrays, about 24 bytes a
    row instead of about 100 as Row tuples (a channel list is remembered whole: 50,000 rooms at 20M messages)."""

    __slots__ = ("_messages", "_previous", "_rids")

    def __init__(self, found: Iterable[Row]):
        found = list(found)
        self._rids = tuple(r.rid for r in found)
        self._messages = array("q", [r.messages for r in found])
        self._previous = array("q", [r.previous for r in found])

    def __len__(self) -> int:
        return len(self._rids)

    @overload
    def __getitem__(self, i: int) -> Row: ...

    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...

    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [Row(*cells) for cells in zip(self._rids[i], self._messages[i], self._previous[i], strict=True)]
        return Row(self._rids[i], self._messages[i], self._previous[i])

    @property
    def nbytes(self) -> int:
        """About the memory the rows hold of their own (the room ids are the kept days' strings)."""
        return 100 + 24 * len(self._rids)


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


def _room_value(room: Mapping[str, Any] | None, field: str) -> tuple[int, str | float]:
    """A sortable value of the room's field: rooms without it first (ascending)."""
    if room is None:
        return (0, "")
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


def row_json(row: Row, room: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "room": room_json(room),
        "messages": row.messages,
        "lastWeekMessages": row.previous,
        "diffFromLastWeek": row.diff,
    }


def list_json(page: Iterable[tuple[Row, Mapping[str, Any]]], total: int, offset: int) -> str:
    channels = [row_json(row, room) for row, room in page]
    body = {"channels": channels, "total": total, "offset": offset, "count": len(channels), "success": True}
    return json.dumps(body, separators=(",", ":"))


def csv_cells(row: Row, room: Mapping[str, Any]) -> list[str]:
    """`Room type;Name;Messages;Last Update Date;Creation Date`."""
    updated, created = room.get("_updatedAt"), room.get("ts")
    return [
        str(room.get("t") or ""),
        display_name(room) or ", ".join(u for u in room.get("usernames") or () if isinstance(u, str)),
        str(row.messages),
        iso_z(updated) if isinstance(updated, datetime) else "",
        iso_z(created) if isinstance(created, datetime) else "",
    ]


# -- the answer ---------------------------------------------------------------------------------------------------
async def channel_rows(sources: Sources, q: ListQuery) -> Sequence[Row]:
    """Every row of the range, in the requested order. Remembered (sorted, compactly) while the counts stay the
    same, for sorts by a count; sorts by a room's field read every row's room."""
    if q.sort not in ROOM_SORTS:
        return await remembered(sources.counts, MESSAGES, REPORT.key(q), lambda: _compact_rows(sources, q))
    return await _counted_rows(sources, q)


async def _compact_rows(sources: Sources, q: ListQuery) -> Rows:
    return Rows(await _counted_rows(sources, q))


async def _counted_rows(sources: Sources, q: ListQuery) -> list[Row]:
    in_range, before = range_and_before(q, sources.calendar)
    counted = MESSAGES.counted_for(q.bots)
    current = await sources.counts.sums_by_key(MESSAGES, in_range, counted)
    previous = await sources.counts.sums_by_key(MESSAGES, before, counted)
    found = rows(current, previous, sources.rooms.kind)
    if q.sort in ROOM_SORTS:
        rooms = await sources.rooms.documents([r.rid for r in found])
        found = ordered([r for r in found if r.rid in rooms], q.sort, q.descending, rooms)
    else:
        found = ordered(found, q.sort, q.descending)
    return found


async def json_answer(sources: Sources, q: ListQuery) -> str:
    for _ in range(ROOM_RETRIES):
        found = await channel_rows(sources, q)
        page = found[q.offset : q.offset + q.count]
        rooms, complete = await existing_rooms(sources.rooms, [r.rid for r in page])
        if complete:
            break
    return list_json(((r, rooms[r.rid]) for r in page if r.rid in rooms), len(found), q.offset)


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
                    yield line(cell(v, text=j == 1) for j, v in enumerate(csv_cells(row, room)))

    return stream()


REPORT = Report(
    path=f"{DASHBOARD}/channels/list",
    summary="every room with messages in the range or the one before, one page, sorted",
    params=LIST,
    json=json_answer,
    csv=csv_lines,
    csv_name="channels-list",
    csv_header=("Room type", "Name", "Messages", "Last Update Date", "Creation Date"),
)

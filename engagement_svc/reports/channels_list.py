"""channels/list: every room with messages in the range or the one before (or, asked: every room, zeros included;
the silent channels and groups, without a message in the range), of one team when asked, ordered, one page of it
(its CSV: every row). Each row has its messages, those of the range before, its posters and last day posted, and
its members. The counts and the rooms' documents come in through the report's sources; JSON (or CSV rows) goes
out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from engagement_svc.counting.catalog import MESSAGES, POSTS
from engagement_svc.days import iso_z
from engagement_svc.reports.channel_rows import (
    SILENT_TYPES,
    LiveRows,
    Row,
    Rows,
    display_name,
    members_of,
    ordered,
    rows,
)
from engagement_svc.reports.csv import Lines, cell, line
from engagement_svc.reports.last_days import NEVER, last_days
from engagement_svc.reports.queries import LIST, ListQuery
from engagement_svc.reports.remembered import followed
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import ROOM_RETRIES, ROOM_TYPE_ORDER, existing_rooms, team_rooms
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import range_and_before

ROOM_SORTS = ("name", "ts", "_updatedAt", "members")  # sorts that need every row's room document, not the counts


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
    if stamp is None:  # the open days not followed yet (see `followed`): so that the list is kept
        for metric in (MESSAGES, POSTS):
            await followed(sources.counts, metric, q, wait=team is None)
        stamp = _stamp(sources, q)
        open_s, edge = _edge(sources, q)
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
    posters = await sources.counts.subject_counts(POSTS, in_range, POSTS.counted_for(q.bots))
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

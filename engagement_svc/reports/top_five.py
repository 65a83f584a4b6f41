"""messages/top-five-popular-channels: the five rooms with the most messages sent in the range."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping
from typing import Any

from engagement_svc.counting.catalog import MESSAGES
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import TEAM_RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import ROOM_RETRIES, ROOM_TYPE_ORDER, existing_rooms, team_depends, team_rooms
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import range_and_before


def top_five(per_room: Mapping[str, int], kind_of: Callable[[str], str | None]) -> list[tuple[str, int]]:
    """The five rooms (c, p or d) with the most messages, most first, ties by id; rooms with none never."""
    rows = ((rid, n) for rid, n in per_room.items() if n > 0 and kind_of(rid) in ROOM_TYPE_ORDER)
    return heapq.nsmallest(5, rows, key=lambda row: (-row[1], row[0]))


def top_five_row(room: Mapping[str, Any], messages: int) -> dict[str, Any]:
    """One row: the room's id and type, its current name (fname, else name; absent without either), its
    usernames for direct rooms ([] for others), and its messages."""
    row: dict[str, Any] = {"_id": room["_id"], "t": room.get("t")}
    name = room.get("fname") or room.get("name")
    if isinstance(name, str) and name:
        row["name"] = name
    usernames = room.get("usernames")
    row["usernames"] = usernames if room.get("t") == "d" and isinstance(usernames, list) else []
    row["messages"] = messages
    return row


def top_five_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"channels": rows, "success": True}, separators=(",", ":"), default=str)


async def top_rows(sources: Sources, q: RangeQuery) -> list[dict[str, Any]]:
    """The rows, of rooms that still exist (the five made again without a room found gone)."""
    in_range, _ = range_and_before(q, sources.calendar)
    counts, rooms = sources.counts, sources.rooms
    team = await team_rooms(rooms, q.team)

    async def compute() -> list[tuple[str, int]]:
        per_room = await counts.sums_by_key(MESSAGES, in_range, MESSAGES.counted_for(q.bots), team)
        return top_five(per_room, rooms.kind)

    for _ in range(ROOM_RETRIES):
        best = await remembered(counts, MESSAGES, REPORT.key(q), compute, team_depends(sources, q), q, team is None)
        found, complete = await existing_rooms(rooms, [rid for rid, _ in best])
        if complete:
            break
    return [top_five_row(found[rid], n) for rid, n in best if rid in found]


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    return top_five_json(await top_rows(sources, q))


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    """Type, name (a direct room's: its usernames), messages; the name is user-written text."""
    rows = [(r["t"], r.get("name") or ", ".join(r["usernames"]), r["messages"]) for r in await top_rows(sources, q)]
    return lines_of(rows, text_columns=(1,))


REPORT = Report(
    path=f"{DASHBOARD}/messages/top-five-popular-channels",
    summary="the five rooms with the most messages sent in the range",
    params=TEAM_RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="messages-top-five",
    csv_header=("Room Type", "Name", "Messages"),
)

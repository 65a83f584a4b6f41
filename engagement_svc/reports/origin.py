"""messages/origin: messages sent in the range per room type, exactly c, p and d, most first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypedDict

from engagement_svc.counting.catalog import FLAG, MESSAGES
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.queries import TEAM_RANGE, RangeQuery
from engagement_svc.reports.remembered import remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import ROOM_TYPE_ORDER, team_depends, team_rooms
from engagement_svc.reports.sources import RoomSet, Sources
from engagement_svc.reports.windows import range_and_before


async def per_type(sources: Sources, q: RangeQuery) -> dict[str, int]:
    """Messages that count in the range, per room type (a type's bot messages under the type)."""
    team = await team_rooms(sources.rooms, q.team)
    return await remembered(
        sources.counts, MESSAGES, REPORT.key(q), lambda: _counted(sources, q, team), team_depends(sources, q), q
    )


async def _counted(sources: Sources, q: RangeQuery, team: RoomSet) -> dict[str, int]:
    in_range, _ = range_and_before(q, sources.calendar)
    counted = MESSAGES.counted_for(q.bots)
    per_class = (await sources.counts.sums_by_class(MESSAGES, [in_range], team))[0]
    found: dict[str, int] = {}
    for kind, n in per_class.items():
        if kind in counted:
            base = kind.split(FLAG, 1)[0]
            found[base] = found.get(base, 0) + n
    return found


class OriginRow(TypedDict):
    """A row of the JSON answer: a room type, its messages."""

    t: str
    messages: int


def origins(per_type: Mapping[str, int]) -> list[OriginRow]:
    """Exactly c, p and d, zeros included, most messages first, ties in the order c, p, d."""
    rows = sorted(ROOM_TYPE_ORDER, key=lambda t: (-per_type.get(t, 0), ROOM_TYPE_ORDER.index(t)))
    return [{"t": t, "messages": per_type.get(t, 0)} for t in rows]


def origin_json(per_type: Mapping[str, int]) -> str:
    return json.dumps({"origins": origins(per_type), "success": True}, separators=(",", ":"))


async def json_answer(sources: Sources, q: RangeQuery) -> str:
    return origin_json(await per_type(sources, q))


async def csv_lines(sources: Sources, q: RangeQuery) -> Lines:
    return lines_of((o["t"], o["messages"]) for o in origins(await per_type(sources, q)))


REPORT = Report(
    path=f"{DASHBOARD}/messages/origin",
    summary="messages sent in the range per room type (c, p, d)",
    params=TEAM_RANGE,
    json=json_answer,
    csv=csv_lines,
    csv_name="messages-origin",
    csv_header=("Room Type", "Messages"),
)

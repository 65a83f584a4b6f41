"""The rooms the dashboard shows: their types, their documents read with the rooms found gone forgotten, and the
rooms of a team."""

from __future__ import annotations

from collections.abc import Hashable

from engagement_svc.mongo_types import Document
from engagement_svc.reports.queries import BadRequest, RangeQuery
from engagement_svc.reports.sources import Rooms, Sources

ROOM_TYPE_ORDER = ("c", "p", "d")  # the types the dashboard shows, and how ties are ordered
ROOM_RETRIES = 3  # a room deleted between counting and reading its document: the answer is made again


async def existing_rooms(rooms: Rooms, rids: list[str]) -> tuple[dict[str, Document], bool]:
    """The rooms' documents, and whether all of them still exist. A room deleted since the room types were read
    is forgotten at once, so that the answer made again leaves it out."""
    found = await rooms.documents(rids)
    gone = [rid for rid in rids if rid not in found]
    for rid in gone:
        rooms.forget(rid)
    return found, not gone


async def team_rooms(rooms: Rooms, team: str | None) -> frozenset[str] | None:
    """The rooms whose current `teamId` is the team asked (None when none is asked: every room); a team that does
    not exist is a 400 naming teamId."""
    if team is None:
        return None
    if not await rooms.team_exists(team):
        raise BadRequest("Invalid parameter 'teamId': no team has this _id")
    return frozenset(await rooms.every(ROOM_TYPE_ORDER, team))


def team_depends(sources: Sources, q: RangeQuery) -> tuple[Hashable | None, ...]:
    """What a team's answer depends on besides the counts: the rooms (which are the team's); nothing for every
    room's."""
    return () if q.team is None else (sources.rooms.version(),)

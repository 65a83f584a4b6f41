"""The rooms the dashboard shows: their types, and their documents read with the rooms found gone forgotten."""

from __future__ import annotations

from engagement_svc.mongo_types import Document
from engagement_svc.reports.sources import Rooms

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

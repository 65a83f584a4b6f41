"""Messages sent per room and local day, counted from `rocketchat_message` itself, and the endpoint's body.

One aggregation covers any set of days: the `{ts: 1}` index bounds the scan; system messages (`t` set) and
hidden edit copies do not count; what is sent is grouped by local day and room. Room types are applied after,
from the cached room-type map, so that a count can be kept per room and reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.days import day_from_number, local_day_expression, local_midnight

RoomCounts = dict[str, int]  # room id -> messages sent in it on one day


@dataclass
class DayCount:
    """One local day: messages sent per room (rooms with none left out), and `raw`, every message whose `ts` falls
    in the day, from the same scan. A later deletion makes `raw` disagree with a fresh index count."""

    rooms: RoomCounts
    raw: int


def messages_sent_filter(lo: datetime, hi: datetime) -> dict:
    """What Rocket.Chat's own counter counts: user messages, not system messages or edit-history copies."""
    return {"ts": {"$gte": lo, "$lt": hi}, "t": {"$exists": False}, "_hidden": {"$ne": True}}


# The same test as messages_sent_filter, as an expression: no `t`, and `_hidden` not true.
SENT = {"$and": [{"$eq": [{"$type": "$t"}, "missing"]}, {"$ne": ["$_hidden", True]}]}


def day_bounds(days: Iterable[date], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The UTC spans of these local days, adjacent days merged, in order."""
    spans: list[tuple[datetime, datetime]] = []
    previous: date | None = None
    for day in sorted(set(days)):
        if previous is not None and day == previous + timedelta(days=1):
            spans[-1] = (spans[-1][0], local_midnight(day + timedelta(days=1), zone))
        else:
            spans.append((local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)))
        previous = day
    return spans


def room_days_pipeline(spans: list[tuple[datetime, datetime]], zone: ZoneInfo) -> list[dict]:
    """Per local day: messages sent per room, and every message. The `{ts: 1}` index bounds the scan (one range
    per span); the documents are fetched anyway to test `t` and `_hidden`, so counting all of them is free
    (measured: 835 ms against 858 ms for 344,440 messages with the test in `$match`)."""
    ranges = [{"ts": {"$gte": lo, "$lt": hi}} for lo, hi in spans]
    return [
        {"$match": ranges[0] if len(ranges) == 1 else {"$or": ranges}},
        {
            "$group": {
                "_id": {"day": local_day_expression(zone, spans[0][0], spans[-1][1]), "rid": "$rid"},
                "n": {"$sum": {"$cond": [SENT, 1, 0]}},
                "all": {"$sum": 1},
            }
        },
        {
            "$group": {
                "_id": "$_id.day",
                "rids": {"$push": "$_id.rid"},
                "counts": {"$push": "$n"},
                "raw": {"$sum": "$all"},
            }
        },
    ]


def room_days_from(docs: Iterable[Mapping]) -> dict[date, DayCount]:
    return {
        day_from_number(doc["_id"]): DayCount(
            {r: n for r, n in zip(doc["rids"], doc["counts"], strict=True) if n}, doc["raw"]
        )
        for doc in docs
    }


async def count_room_days(db, days: Iterable[date], zone: ZoneInfo) -> dict[date, DayCount]:
    """Every requested day (days without any message too), counted in one aggregation."""
    days = sorted(set(days))
    if not days:
        return {}
    cursor = await db.rocketchat_message.aggregate(room_days_pipeline(day_bounds(days, zone), zone), allowDiskUse=True)
    found = room_days_from([doc async for doc in cursor])
    return {day: found.get(day) or DayCount({}, 0) for day in days}

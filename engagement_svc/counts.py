"""Messages sent per local day, counted from `rocketchat_message` itself.

One aggregation answers the range and the window before it: the `{ts: 1}` index bounds the scan; system
messages (`t` set) and hidden edit copies are dropped; what is left is grouped by room and local day, each
room's type is looked up once, and only channels, private groups and direct rooms are summed per day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement_svc.days import local_day_expression, local_midnight
from engagement_svc.params import Query

COUNTED_ROOM_TYPES = ["c", "p", "d"]  # channel, private group, direct; never livechat (l) or voip (v)


def messages_sent_filter(lo: datetime, hi: datetime) -> dict:
    """What Rocket.Chat's own counter counts: user messages, not system messages or edit-history copies."""
    return {"ts": {"$gte": lo, "$lt": hi}, "t": {"$exists": False}, "_hidden": {"$ne": True}}


def daily_counts_pipeline(lo: datetime, hi: datetime, zone: ZoneInfo) -> list[dict]:
    return [
        {"$match": messages_sent_filter(lo, hi)},
        {"$group": {"_id": {"rid": "$rid", "day": local_day_expression(zone, lo, hi)}, "n": {"$sum": 1}}},
        {"$group": {"_id": "$_id.rid", "days": {"$push": {"day": "$_id.day", "n": "$n"}}}},
        {"$lookup": {"from": "rocketchat_room", "localField": "_id", "foreignField": "_id", "as": "room",
                     "pipeline": [{"$project": {"_id": 0, "t": 1}}]}},
        {"$match": {"room.t": {"$in": COUNTED_ROOM_TYPES}}},
        {"$unwind": "$days"},
        {"$group": {"_id": "$days.day", "n": {"$sum": "$days.n"}}},
    ]


async def daily_counts(db, lo: datetime, hi: datetime, zone: ZoneInfo) -> dict[date, int]:
    """{local day: messages sent} for every day with at least one message in [lo, hi)."""
    cursor = await db.rocketchat_message.aggregate(daily_counts_pipeline(lo, hi, zone), allowDiskUse=True)
    return {doc["_id"].date(): doc["n"] async for doc in cursor}


def iso_z(instant: datetime) -> str:
    """JavaScript's Date#toISOString form: UTC, milliseconds, Z."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


async def messages_sent(db, query: Query) -> dict:
    """The endpoint's body: every day of the range (newest first, zeros included), the period's variation against
    the equally long window before it, and the last day's against the day before."""
    n = query.days
    first, last = query.first_day, query.last_day
    lo = local_midnight(first - timedelta(days=n), query.zone)
    hi = local_midnight(last + timedelta(days=1), query.zone)
    counts = await daily_counts(db, lo, hi, query.zone)
    range_days = [last - timedelta(days=i) for i in range(n)]
    period = sum(counts.get(d, 0) for d in range_days)
    previous = sum(counts.get(first - timedelta(days=i), 0) for i in range(1, n + 1))
    yesterday = counts.get(last - timedelta(days=1), 0)
    return {
        "days": [{"day": iso_z(local_midnight(d, query.zone)), "messages": counts.get(d, 0)} for d in range_days],
        "period": {"count": period, "variation": period - previous},
        "yesterday": {"count": yesterday, "variation": counts.get(last, 0) - yesterday},
        "success": True,
    }

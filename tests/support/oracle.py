"""The expected answer, recounted in plain Python from every document in the database.

It shares no code with the service: it reads every message and room, decides what counts one document at a
time, and places each message on its local calendar day with zoneinfo.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def count_by_local_day(db, zone: ZoneInfo) -> Counter:
    room_types = {room["_id"]: room.get("t") for room in db.rocketchat_room.find({}, {"t": 1})}
    days: Counter = Counter()
    for message in db.rocketchat_message.find({}, {"ts": 1, "t": 1, "_hidden": 1, "rid": 1}):
        if "t" in message or message.get("_hidden") is True:
            continue
        if room_types.get(message["rid"]) not in ("c", "p", "d"):
            continue
        days[message["ts"].astimezone(zone).date()] += 1
    return days


def expected_body(db, start: datetime, end: datetime, zone_name: str, days: Counter | None = None) -> dict:
    zone = ZoneInfo(zone_name)
    days = count_by_local_day(db, zone) if days is None else days
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    n = (last - first).days + 1
    in_range = [last - timedelta(days=i) for i in range(n)]
    before = [first - timedelta(days=i) for i in range(1, n + 1)]
    period = sum(days[d] for d in in_range)
    yesterday = days[last - timedelta(days=1)]

    def js_iso(d):
        utc = datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)
        return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {
        "days": [{"day": js_iso(d), "messages": days[d]} for d in in_range],
        "period": {"count": period, "variation": period - sum(days[d] for d in before)},
        "yesterday": {"count": yesterday, "variation": days[last] - yesterday},
        "success": True,
    }


def js(instant: datetime) -> str:
    """The JavaScript ISO form Rocket.Chat's client sends."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

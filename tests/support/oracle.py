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


def bot_user_ids(db) -> set[str]:
    """Users whose type is bot or app, or whose roles include bot."""
    return {
        u["_id"]
        for u in db.users.find({}, {"type": 1, "roles": 1})
        if u.get("type") in ("bot", "app") or "bot" in (u.get("roles") or [])
    }


def sent_messages(db, zone: ZoneInfo, bots: str = "include"):
    """(local date, room document) of every message sent in an existing room of type c, p or d, keeping bot
    messages (by a bot user, or carrying `bot`) as `bots` says."""
    rooms = {room["_id"]: room for room in db.rocketchat_room.find({})}
    bot_ids = bot_user_ids(db)
    for message in db.rocketchat_message.find({}, {"ts": 1, "t": 1, "_hidden": 1, "rid": 1, "bot": 1, "u": 1}):
        if "t" in message or message.get("_hidden") is True:
            continue
        room = rooms.get(message["rid"])
        if room is None or room.get("t") not in ("c", "p", "d"):
            continue
        is_bot = "bot" in message or (message.get("u") or {}).get("_id") in bot_ids
        if (bots == "exclude" and is_bot) or (bots == "only" and not is_bot):
            continue
        yield message["ts"].astimezone(zone).date(), room


def range_days(start: datetime, end: datetime, zone: ZoneInfo):
    """The range's local dates and the window of as many dates before it."""
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    n = (last - first).days + 1
    return {first + timedelta(days=i) for i in range(n)}, {first - timedelta(days=i) for i in range(1, n + 1)}


def expected_origin(db, start, end, zone_name, bots="include") -> dict:
    zone = ZoneInfo(zone_name)
    in_range, _ = range_days(start, end, zone)
    per_type = Counter(room["t"] for day, room in sent_messages(db, zone, bots) if day in in_range)
    order = sorted("cpd", key=lambda t: (-per_type[t], "cpd".index(t)))
    return {"origins": [{"t": t, "messages": per_type[t]} for t in order], "success": True}


def room_messages(db, start, end, zone_name, bots="include"):
    """Per room id: (messages in the range, messages in the window before), and the room documents."""
    zone = ZoneInfo(zone_name)
    in_range, before = range_days(start, end, zone)
    current, previous, rooms = Counter(), Counter(), {}
    for day, room in sent_messages(db, zone, bots):
        rooms[room["_id"]] = room
        if day in in_range:
            current[room["_id"]] += 1
        elif day in before:
            previous[room["_id"]] += 1
    return current, previous, rooms


def expected_top_five(db, start, end, zone_name, bots="include") -> dict:
    current, _, rooms = room_messages(db, start, end, zone_name, bots)
    best = sorted((rid for rid in current if current[rid] > 0), key=lambda rid: (-current[rid], rid))[:5]
    channels = []
    for rid in best:
        room = rooms[rid]
        row = {"_id": rid, "t": room["t"]}
        if room.get("fname") or room.get("name"):
            row["name"] = room.get("fname") or room.get("name")
        row["usernames"] = room.get("usernames", []) if room["t"] == "d" else []
        row["messages"] = current[rid]
        channels.append(row)
    return {"channels": channels, "success": True}


def expected_channel_rows(db, start, end, zone_name, bots="include", sort="-messages") -> list[dict]:
    """Every row of channels/list, in the order asked (ties by room id)."""
    current, previous, rooms = room_messages(db, start, end, zone_name, bots)
    rows = []
    for rid in sorted(set(current) | set(previous)):
        room = rooms[rid]
        shown = {"_id": rid}
        if room.get("name") or room.get("fname"):
            shown["name"] = room.get("name") or room.get("fname")
        shown["t"] = room["t"]
        shown["ts"] = js(room["ts"])
        shown["_updatedAt"] = js(room["_updatedAt"])
        if "usernames" in room:
            shown["usernames"] = room["usernames"]
        m, p = current[rid], previous[rid]
        rows.append({"room": shown, "messages": m, "lastWeekMessages": p, "diffFromLastWeek": m - p})
    field, descending = sort.lstrip("-"), sort.startswith("-")

    def value(row):
        if field in ("name", "ts", "_updatedAt"):
            v = row["room"].get(field)
            return (0, "") if v is None else (1, v)  # ISO strings of one form sort as the instants do
        return row[field]

    rows.sort(key=value, reverse=descending)  # stable: ties stay in room id order
    return rows


def expected_new_users(db, start: datetime, end: datetime, zone_name: str, bots: str = "include") -> dict:
    """new-users by messages-sent's rules: users by the local day of `createdAt`, anonymous users left out."""
    zone = ZoneInfo(zone_name)
    days: Counter = Counter()
    for user in db.users.find({}, {"createdAt": 1, "roles": 1, "type": 1}):
        roles = user.get("roles") or []
        roles = roles if isinstance(roles, list) else [roles]
        if "anonymous" in roles or not isinstance(user.get("createdAt"), datetime):
            continue
        is_bot = user.get("type") in ("bot", "app") or "bot" in roles
        if (bots == "exclude" and is_bot) or (bots == "only" and not is_bot):
            continue
        days[user["createdAt"].astimezone(zone).date()] += 1
    body = expected_body(db, start, end, zone_name, days)
    body["days"] = [{"day": d["day"], "users": d["messages"]} for d in body["days"]]
    return body

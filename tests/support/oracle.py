"""The expected answer, recounted in plain Python from every document in the database.

It shares no code with the service: it reads every message and room, decides what counts one document at a
time, and places each message on its local calendar day with zoneinfo.
"""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def count_by_local_day(db, zone: ZoneInfo, bots: str = "include") -> Counter:
    """Messages sent per local day, keeping bot messages as `bots` says."""
    return Counter(day for day, _ in sent_messages(db, zone, bots))


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


def expected_messages_sent(db, start: datetime, end: datetime, zone_name: str, bots: str = "include") -> dict:
    return expected_body(db, start, end, zone_name, count_by_local_day(db, ZoneInfo(zone_name), bots))


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


# -- active users, from the raw sessions by the spec's interval rule -----------------------------------------------
SESSION_ENDS = ("closedAt", "logoutAt", "lastActivityAt")


class Intervals(list):
    """Sessions as (user, start, end), sorted by start, so that the candidates for a piece of time are found by
    bisection (every candidate is still tested one by one)."""

    def __init__(self, items):
        super().__init__(sorted(items, key=lambda x: x[1]))
        self.starts = [a for _, a, _ in self]
        self.longest = max((b - a for _, a, b in self), default=timedelta(0))


def counted_session_docs(db, now: datetime, bots: str = "include"):
    """(document, user, end) of every counted session: type session or computed-session, with a userId, not
    anonymous, a loginAt; end = the first of closedAt, logoutAt, lastActivityAt that is a date, else now; a bot's
    sessions (those of a bot user) kept as `bots` says."""
    bot_ids = bot_user_ids(db)
    for s in db.rocketchat_sessions.find({}):
        user = s.get("userId")
        if s.get("type") not in ("session", "computed-session") or not isinstance(user, str):
            continue
        if s.get("mostImportantRole") == "anonymous" or not isinstance(s.get("loginAt"), datetime):
            continue
        if (bots == "exclude" and user in bot_ids) or (bots == "only" and user not in bot_ids):
            continue
        yield s, user, next((s[f] for f in SESSION_ENDS if isinstance(s.get(f), datetime)), now)


def session_intervals(db, now: datetime, bots: str = "include") -> Intervals:
    """(user, loginAt, end) of every counted session (see counted_session_docs)."""
    return Intervals((user, s["loginAt"], end) for s, user, end in counted_session_docs(db, now, bots))


def days_between(start: datetime, end: datetime, zone: ZoneInfo) -> list:
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def active(intervals: Intervals, pieces: list[tuple[datetime, datetime]]) -> set[str]:
    """The users some interval of whom covers an instant of one of these pieces of time."""
    if not pieces:
        return set()
    first = bisect.bisect_left(intervals.starts, min(lo for lo, _ in pieces) - intervals.longest)
    last = bisect.bisect_left(intervals.starts, max(hi for _, hi in pieces))
    return {u for u, a, b in intervals[first:last] if any(a < hi and b > lo and a < b for lo, hi in pieces)}


def local_day_piece(day, zone: ZoneInfo) -> tuple[datetime, datetime]:
    def midnight(d):
        return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)

    return midnight(day), midnight(day + timedelta(days=1))


@lru_cache(maxsize=4096)  # a day's hours do not change: found once per day and zone
def local_hour_pieces(day, zone: ZoneInfo) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per wall-clock hour of a local day, the pieces of time it covers, found minute by minute."""
    lo, hi = local_day_piece(day, zone)
    pieces: dict[int, list[tuple[datetime, datetime]]] = {h: [] for h in range(24)}
    t = lo - timedelta(hours=3)
    while t < hi + timedelta(hours=3):
        local = t.astimezone(zone)
        if local.date() == day:
            found = pieces[local.hour]
            if found and found[-1][1] == t:
                found[-1] = (found[-1][0], t + timedelta(minutes=1))
            else:
                found.append((t, t + timedelta(minutes=1)))
        t += timedelta(minutes=1)
    return pieces


def expected_active_users(db, start, end, zone_name, bots="include", now=None) -> dict:
    zone = ZoneInfo(zone_name)
    intervals = session_intervals(db, now or datetime.now(UTC), bots)
    rows = []
    for day in reversed(days_between(start, end, zone)):
        users = sorted(active(intervals, [local_day_piece(day, zone)]))

        def window(n, day=day):
            return [(local_day_piece(day - timedelta(days=n - 1), zone)[0], local_day_piece(day, zone)[1])]

        rows.append(
            {
                "day": day.day,
                "month": day.month,
                "year": day.year,
                "users": len(users),
                "usersList": users,
                "wau": len(active(intervals, window(7))),
                "mau": len(active(intervals, window(30))),
            }
        )
    return {"month": rows, "success": True}


def expected_by_hour(db, start, end, zone_name, bots="include", now=None) -> dict:
    zone = ZoneInfo(zone_name)
    intervals = session_intervals(db, now or datetime.now(UTC), bots)
    rows = []
    for day in reversed(days_between(start, end, zone)):
        pieces = local_hour_pieces(day, zone)
        for hour in range(23, -1, -1):
            n = len(active(intervals, pieces[hour]))
            rows.append({"day": day.day, "month": day.month, "year": day.year, "hour": hour, "users": n})
    return {"week": rows, "success": True}


def expected_hourly(db, start, zone_name, bots="include", now=None) -> dict:
    zone = ZoneInfo(zone_name)
    intervals = session_intervals(db, now or datetime.now(UTC), bots)
    pieces = local_hour_pieces(start.astimezone(zone).date(), zone)
    rows = [{"hour": h, "users": len(active(intervals, pieces[h] + pieces[h + 1]))} for h in range(22, -1, -2)]
    return {"hours": rows, "success": True}


def expected_weekly(db, start, zone_name, bots="include", now=None) -> dict:
    zone = ZoneInfo(zone_name)
    intervals = session_intervals(db, now or datetime.now(UTC), bots)
    last = start.astimezone(zone).date()
    rows = []
    for i in range(7):
        day = last - timedelta(days=i)
        rows.append(
            {
                "day": day.day,
                "month": day.month,
                "year": day.year,
                "users": len(active(intervals, [local_day_piece(day, zone)])),
            }
        )
    return {"month": rows, "success": True}


# -- CSV: the same numbers, as the rows Rocket.Chat's page writes (the header first) -------------------------------
def spreadsheet_safe(text: str) -> str:
    """User-written text a spreadsheet would run as a formula gets a leading `'`."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def local_midnight(day: date, zone: ZoneInfo) -> str:
    """The instant a local day begins (where midnight is skipped, the first instant of the day), as JavaScript
    writes it."""
    return js(local_day_piece(day, zone)[0])


def hour_start(day: date, hour: int, zone: ZoneInfo) -> str:
    """The first instant of a wall-clock hour of a local day; for an hour the clock skips, the instant where it
    would have begun (the clock jumps past it there)."""
    pieces = local_hour_pieces(day, zone)[hour]
    if pieces:
        return js(pieces[0][0])
    return js(datetime.combine(day, time(hour), tzinfo=zone))  # fold 0: the offset before the jump


def row_date(row: dict) -> date:
    return date(row["year"], row["month"], row["day"])


def csv_days(body: dict, header: str) -> list[list[str]]:
    """messages-sent (`Date;Messages`) and new-users (`Date;New Users`)."""
    field = "messages" if header == "Messages" else "users"
    return [["Date", header]] + [[d["day"], str(d[field])] for d in body["days"]]


def csv_origin(body: dict) -> list[list[str]]:
    return [["Room Type", "Messages"]] + [[o["t"], str(o["messages"])] for o in body["origins"]]


def csv_top_five(body: dict) -> list[list[str]]:
    return [["Room Type", "Name", "Messages"]] + [
        [c["t"], spreadsheet_safe(c.get("name") or ", ".join(c["usernames"])), str(c["messages"])]
        for c in body["channels"]
    ]


def csv_active_users(body: dict, zone_name: str) -> list[list[str]]:
    zone = ZoneInfo(zone_name)
    return [["Date", "DAU", "WAU", "MAU"]] + [
        [local_midnight(row_date(r), zone), str(r["users"]), str(r["wau"]), str(r["mau"])] for r in body["month"]
    ]


def csv_by_hour(body: dict, zone_name: str) -> list[list[str]]:
    zone = ZoneInfo(zone_name)
    return [["Date", "Users"]] + [[hour_start(row_date(r), r["hour"], zone), str(r["users"])] for r in body["week"]]


def csv_hourly(body: dict) -> list[list[str]]:
    return [["Hour", "Users"]] + [[str(r["hour"]), str(r["users"])] for r in body["hours"]]


def csv_weekly(body: dict, zone_name: str) -> list[list[str]]:
    zone = ZoneInfo(zone_name)
    return [["Date", "Users"]] + [[local_midnight(row_date(r), zone), str(r["users"])] for r in body["month"]]


def csv_name(endpoint: str, start: datetime, end: datetime, zone_name: str) -> str:
    """The download's name: the endpoint's and the range's first and last local days."""
    zone = ZoneInfo(zone_name)
    return f"{endpoint}_{start.astimezone(zone).date()}_{end.astimezone(zone).date()}.csv"


class Snapshot:
    """The database's documents, read once: the same `find` as a PyMongo database (projections aside: whole
    documents), for many recounts of data that does not change meanwhile."""

    def __init__(self, db):
        self._db = db
        self._collections: dict[str, Snapshot.Collection] = {}

    class Collection:
        def __init__(self, documents: list[dict]):
            self.documents = documents

        def find(self, query: dict | None = None, projection: dict | None = None):
            assert not query, "a snapshot finds every document"
            return iter(self.documents)

    def __getattr__(self, name: str) -> Snapshot.Collection:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._collections:
            self._collections[name] = Snapshot.Collection(list(self._db[name].find({})))
        return self._collections[name]


def closed_days(grace_seconds: float, oldest: list[datetime], now: datetime | None = None) -> int:
    """How many closed UTC days there are from each oldest document's day on: a day is closed once its end plus
    the grace has passed, so the first day still open is the day of (now - grace)."""
    first_open = ((now or datetime.now(UTC)) - timedelta(seconds=grace_seconds)).date()
    return sum((first_open - t.astimezone(UTC).date()).days for t in oldest)

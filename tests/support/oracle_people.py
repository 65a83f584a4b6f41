"""The people reports (users/posting-users, users/clients, users/members) recounted in plain Python from every
document in the database, one document at a time, as tests/support/oracle.py recounts the dashboard's.

It shares no code with the service. What counts is decided here from the contract
(/work/shared/spec/beyond-the-dashboard.md): a message sent is messages-sent's (no `t`, not `_hidden`, in an
existing room of type c, p or d); "active" is the sessions' interval rule (oracle.session_intervals' rules); a
session's client comes from its `device.type`; days are the request zone's calendar days (zoneinfo).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.support.oracle import (
    Intervals,
    active,
    bot_user_ids,
    counted_session_docs,
    days_between,
    js,
    local_day_piece,
    local_midnight,
    spreadsheet_safe,
)

CLIENTS = ("web", "desktop", "mobile", "other")
ROOM_TYPES = ("c", "p", "d")
DEFAULT_COUNT = 50
SORT_KEYS = ("messages", "channelMessages", "daysActive", "lastActive", "lastPosted", "username", "createdAt")


# -- what counts --------------------------------------------------------------------------------------------------
def client_of(session: dict) -> str:
    """`web` for browser, mobile and tablet; `desktop` for desktop-app; `mobile` for mobile-app; `other` for
    anything else, an empty type, or no device at all."""
    device = session.get("device")
    kind = device.get("type") if isinstance(device, dict) else None
    if kind in ("browser", "mobile", "tablet"):
        return "web"
    if kind == "desktop-app":
        return "desktop"
    return "mobile" if kind == "mobile-app" else "other"


def counted_sessions(db, now: datetime, bots: str = "include") -> Iterator[tuple[str, datetime, datetime, str]]:
    """(user, loginAt, end, client) of every counted session, by the oracle's rules (oracle.counted_session_docs)."""
    for s, user, end in counted_session_docs(db, now, bots):
        yield user, s["loginAt"], end, client_of(s)


def sessions_by_client(db, now: datetime, bots: str = "include") -> tuple[Intervals, dict[str, Intervals]]:
    """Every counted session, and those of each client."""
    sessions = list(counted_sessions(db, now, bots))
    every = Intervals((u, a, b) for u, a, b, _ in sessions)
    return every, {c: Intervals((u, a, b) for u, a, b, k in sessions if k == c) for c in CLIENTS}


def sent_by_author(db, zone: ZoneInfo, bots: str = "include") -> Iterator[tuple[date, str | None, str]]:
    """(local date, author id, room type) of every message sent: no `t`, not `_hidden`, in an existing room of
    type c, p or d; bot messages (by a bot user, or carrying `bot`) kept as `bots` says. The author is `u._id`,
    whether or not that user still exists (None for a message without one)."""
    rooms = {room["_id"]: room.get("t") for room in db.rocketchat_room.find({}, {"t": 1})}
    bot_ids = bot_user_ids(db)
    for message in db.rocketchat_message.find({}, {"ts": 1, "t": 1, "_hidden": 1, "rid": 1, "bot": 1, "u": 1}):
        if "t" in message or message.get("_hidden") is True:
            continue
        kind = rooms.get(message.get("rid"))
        if kind not in ROOM_TYPES:
            continue
        author = (message.get("u") or {}).get("_id")
        is_bot = "bot" in message or author in bot_ids
        if (bots == "exclude" and is_bot) or (bots == "only" and not is_bot):
            continue
        yield message["ts"].astimezone(zone).date(), author, kind


def whole_range(days: list[date], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The range's days as one piece of time: from the first day's start to the last day's end."""
    return [(local_day_piece(days[0], zone)[0], local_day_piece(days[-1], zone)[1])]


# -- users/posting-users ------------------------------------------------------------------------------------------
def authors_by_day(db, zone: ZoneInfo, bots: str = "include") -> dict[date, set[str]]:
    found: dict[date, set[str]] = defaultdict(set)
    for day, author, _ in sent_by_author(db, zone, bots):
        if author is not None:
            found[day].add(author)
    return found


def expected_posting_users(
    db, start: datetime, end: datetime, zone_name: str, bots: str = "include", by_day: dict | None = None
) -> dict:
    """Per day of the range (newest first): distinct authors that day, and in the 7 and 30 days ending it (the
    window reaching before the range); the range's distinct authors, minus the previous range's. `by_day`: the
    authors per local day of this zone and bots choice, when the caller has them already."""
    zone = ZoneInfo(zone_name)
    by_day = authors_by_day(db, zone, bots) if by_day is None else by_day
    days = days_between(start, end, zone)

    def distinct(first: date, last: date) -> int:
        found: set[str] = set()
        for i in range((last - first).days + 1):
            found |= by_day.get(first + timedelta(days=i), set())
        return len(found)

    rows = [
        {
            "day": local_midnight(day, zone),
            "users": distinct(day, day),
            "wau": distinct(day - timedelta(days=6), day),
            "mau": distinct(day - timedelta(days=29), day),
        }
        for day in reversed(days)
    ]
    count = distinct(days[0], days[-1])
    previous = distinct(days[0] - timedelta(days=len(days)), days[0] - timedelta(days=1))
    return {"days": rows, "period": {"count": count, "variation": count - previous}, "success": True}


def csv_posting_users(body: dict) -> list[list[str]]:
    return [["Date", "Posting", "Posting WAU", "Posting MAU"]] + [
        [d["day"], str(d["users"]), str(d["wau"]), str(d["mau"])] for d in body["days"]
    ]


# -- users/clients ------------------------------------------------------------------------------------------------
def expected_clients(
    db, start: datetime, end: datetime, zone_name: str, bots: str = "include", now: datetime | None = None
) -> dict:
    """Per day of the range (newest first) and client, the distinct users active that day through a session of
    that client; `period`: the same over the whole range."""
    zone = ZoneInfo(zone_name)
    _, by_client = sessions_by_client(db, now or datetime.now(UTC), bots)
    days = days_between(start, end, zone)
    rows = []
    for day in reversed(days):
        piece = [local_day_piece(day, zone)]
        rows.append({"day": local_midnight(day, zone), **{c: len(active(by_client[c], piece)) for c in CLIENTS}})
    period = {c: len(active(by_client[c], whole_range(days, zone))) for c in CLIENTS}
    return {"days": rows, "period": period, "success": True}


def csv_clients(body: dict) -> list[list[str]]:
    return [["Date", "Web", "Desktop", "Mobile", "Other"]] + [
        [d["day"], *(str(d[c]) for c in CLIENTS)] for d in body["days"]
    ]


# -- users/members ------------------------------------------------------------------------------------------------
def last_active_days(intervals: Intervals, last: date, zone: ZoneInfo) -> dict[str, date]:
    """Per user, the latest local day on or before `last` some instant of which one of their sessions covers: a
    session [a, b) covers the days from a's to that of b's last instant; the latest of them not after `last` is
    checked against the day's own piece of time (a session starting after `last` covers none)."""
    found: dict[str, date] = {}
    for user, a, b in intervals:
        if not a < b:
            continue
        day = min(last, (b - timedelta(microseconds=1)).astimezone(zone).date())
        lo, hi = local_day_piece(day, zone)
        if a < hi and b > lo and (user not in found or found[user] < day):
            found[user] = day
    return found


def is_bot_user(user: dict) -> bool:
    return user.get("type") in ("bot", "app") or "bot" in (user.get("roles") or [])


def shown_user(user: dict) -> dict:
    """The row's `user`: _id, username and name (absent if none), type (`user` if absent), active (true unless
    false), createdAt (absent if none)."""
    shown: dict = {"_id": user["_id"]}
    for field in ("username", "name"):
        if user.get(field) is not None:
            shown[field] = user[field]
    shown["type"] = user.get("type", "user")
    shown["active"] = user.get("active") is not False
    if isinstance(user.get("createdAt"), datetime):
        shown["createdAt"] = js(user["createdAt"])
    return shown


def expected_member_rows(
    db,
    start: datetime,
    end: datetime,
    zone_name: str,
    bots: str = "include",
    activity: str = "all",
    sort: str = "-messages",
    now: datetime | None = None,
) -> list[dict]:
    """Every row of users/members, in the order asked: ties by `_id` ascending (code points) in either direction,
    a null or absent value below every value (first ascending, last descending)."""
    zone = ZoneInfo(zone_name)
    days = days_between(start, end, zone)
    in_range, last = set(days), days[-1]
    every, by_client = sessions_by_client(db, now or datetime.now(UTC), "include")
    days_active: Counter = Counter()
    client_days: dict[str, Counter] = {c: Counter() for c in CLIENTS}
    for day in days:
        piece = [local_day_piece(day, zone)]
        days_active.update(active(every, piece))
        for c in CLIENTS:
            client_days[c].update(active(by_client[c], piece))
    last_active = last_active_days(every, last, zone)
    messages: Counter = Counter()
    channel_messages: Counter = Counter()
    last_posted: dict[str, date] = {}
    for day, author, kind in sent_by_author(db, zone, "include"):  # `bots` chooses rows, not messages
        if author is None or day > last:
            continue
        last_posted[author] = max(day, last_posted.get(author, day))
        if day in in_range:
            messages[author] += 1
            channel_messages[author] += kind in ("c", "p")

    keyed: list[tuple[dict, dict]] = []
    for user in db.users.find({}):
        if "anonymous" in (user.get("roles") or []):
            continue
        if (bots == "exclude" and is_bot_user(user)) or (bots == "only" and not is_bot_user(user)):
            continue
        uid = user["_id"]
        engaged = days_active[uid] > 0 or messages[uid] > 0
        if (activity == "active" and not engaged) or (
            activity == "dormant" and (engaged or user.get("active") is False)
        ):
            continue
        row: dict = {
            "user": shown_user(user),
            "messages": messages[uid],
            "channelMessages": channel_messages[uid],
            "daysActive": days_active[uid],
            "clients": {c: client_days[c][uid] for c in CLIENTS},
            "lastActive": local_midnight(last_active[uid], zone) if uid in last_active else None,
            "lastPosted": local_midnight(last_posted[uid], zone) if uid in last_posted else None,
        }
        values = {
            "messages": row["messages"],
            "channelMessages": row["channelMessages"],
            "daysActive": row["daysActive"],
            "lastActive": last_active.get(uid),
            "lastPosted": last_posted.get(uid),
            "username": user.get("username"),
            "createdAt": user.get("createdAt") if isinstance(user.get("createdAt"), datetime) else None,
        }
        keyed.append((values, row))
    field, descending = sort.removeprefix("-"), sort.startswith("-")
    assert field in SORT_KEYS, sort
    keyed.sort(key=lambda vr: vr[1]["user"]["_id"])  # Python compares str by code point, as MongoDB's binary order

    def value(vr):
        v = vr[0][field]
        return (0,) if v is None else (1, v)

    keyed.sort(key=value, reverse=descending)  # stable, reverse included: ties stay in _id order
    return [row for _, row in keyed]


def member_page(rows: list[dict], offset: int = 0, count: int = 0) -> dict:
    """One page of the rows, as channels/list pages: count 0 is the default (50)."""
    page = rows[offset : offset + (count or DEFAULT_COUNT)]
    return {"members": page, "total": len(rows), "offset": offset, "count": len(page), "success": True}


def expected_members(
    db,
    start: datetime,
    end: datetime,
    zone_name: str,
    bots: str = "include",
    activity: str = "all",
    sort: str = "-messages",
    offset: int = 0,
    count: int = 0,
    now: datetime | None = None,
) -> dict:
    rows = expected_member_rows(db, start, end, zone_name, bots, activity, sort, now)
    return member_page(rows, offset, count)


def csv_members(rows: list[dict]) -> list[list[str]]:
    """Every row (not one page): user-written text (username, name) kept from reading as a formula, an absent or
    null value an empty cell, booleans as true/false, dates as in the JSON."""
    out = [
        [
            "Username",
            "Name",
            "Type",
            "Active",
            "Created",
            "Messages",
            "Channel Messages",
            "Days Active",
            "Web",
            "Desktop",
            "Mobile",
            "Other",
            "Last Active",
            "Last Posted",
        ]
    ]
    for row in rows:
        user = row["user"]
        out.append(
            [
                spreadsheet_safe(user.get("username", "")),
                spreadsheet_safe(user.get("name", "")),
                user["type"],
                "true" if user["active"] else "false",
                user.get("createdAt", ""),
                str(row["messages"]),
                str(row["channelMessages"]),
                str(row["daysActive"]),
                *(str(row["clients"][c]) for c in CLIENTS),
                row["lastActive"] or "",
                row["lastPosted"] or "",
            ]
        )
    return out

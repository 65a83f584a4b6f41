"""The brute-force oracle of channels/list: every row recounted from the raw documents by the contract (messages in
the range and the one before, posters, the last day posted as far back as the data goes, members), for every
choice of rows (the default, silent channels, every room, a team's rooms) and every sort. Imports nothing of the
package."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.support.oracle import bot_user_ids, js, local_midnight, range_days, spreadsheet_safe

SHOWN_TYPES = ("c", "p", "d")


def _messages(db, zone: ZoneInfo, bots: str):
    """(local date, room id, author id) of every message sent in an existing room of type c, p or d, bots kept
    as `bots` says."""
    rooms = {room["_id"]: room for room in db.rocketchat_room.find({})}
    bot_ids = bot_user_ids(db)
    for m in db.rocketchat_message.find({}, {"ts": 1, "t": 1, "_hidden": 1, "rid": 1, "bot": 1, "u": 1}):
        if "t" in m or m.get("_hidden") is True:
            continue
        room = rooms.get(m["rid"])
        if room is None or room.get("t") not in SHOWN_TYPES:
            continue
        author = (m.get("u") or {}).get("_id")
        is_bot = "bot" in m or author in bot_ids
        if (bots == "exclude" and is_bot) or (bots == "only" and not is_bot):
            continue
        yield m["ts"].astimezone(zone).date(), m["rid"], author


def room_shown(room: dict) -> dict:
    """A row's `room`: `_id`, `name` (else `fname`; absent without either), `t`, the dates, direct rooms' names."""
    shown = {"_id": room["_id"]}
    if room.get("name") or room.get("fname"):
        shown["name"] = room.get("name") or room.get("fname")
    shown["t"] = room["t"]
    for field in ("ts", "_updatedAt"):
        if isinstance(room.get(field), datetime):
            shown[field] = js(room[field])
    if "usernames" in room:
        shown["usernames"] = room["usernames"]
    return shown


def _members(room: dict) -> int:
    count = room.get("usersCount")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def expected_channel_rows(
    db,
    start: datetime,
    end: datetime,
    zone_name: str,
    bots: str = "include",
    sort: str = "-messages",
    activity: str = "all",
    hide: bool = True,
    team: str | None = None,
) -> list[dict]:
    """Every row of channels/list, in the order asked (ties by room id)."""
    zone = ZoneInfo(zone_name)
    in_range, before = range_days(start, end, zone)
    last_day = max(in_range)
    current, previous, last = Counter(), Counter(), {}
    posters: dict[str, set] = defaultdict(set)
    for day, rid, author in _messages(db, zone, bots):
        if day in in_range:
            current[rid] += 1
            if isinstance(author, str):
                posters[rid].add(author)
        elif day in before:
            previous[rid] += 1
        if day <= last_day and (rid not in last or day > last[rid]):
            last[rid] = day
    rooms = {room["_id"]: room for room in db.rocketchat_room.find({})}
    if activity == "silent":
        chosen = [rid for rid, r in rooms.items() if r.get("t") in ("c", "p") and not current[rid]]
    elif not hide:
        chosen = [rid for rid, r in rooms.items() if r.get("t") in SHOWN_TYPES]
    else:
        chosen = [rid for rid in set(current) | set(previous) if current[rid] or previous[rid]]
    if team is not None:
        chosen = [rid for rid in chosen if rooms[rid].get("teamId") == team]
    rows = []
    for rid in sorted(chosen):
        room = rooms[rid]
        shown = room_shown(room)
        m, p = current[rid], previous[rid]
        rows.append(
            {
                "room": shown,
                "messages": m,
                "lastWeekMessages": p,
                "diffFromLastWeek": m - p,
                "posters": len(posters[rid]),
                "lastPosted": local_midnight(last[rid], zone) if rid in last else None,
                "members": _members(room),
            }
        )
    field, descending = sort.lstrip("-"), sort.startswith("-")

    def value(row):
        if field in ("name", "ts", "_updatedAt"):
            v = row["room"].get(field)
            return (0, "") if v is None else (1, v)  # ISO strings of one form sort as the instants do
        if field == "lastPosted":
            return (0, "") if row[field] is None else (1, row[field])
        return row[field]

    rows.sort(key=value, reverse=descending)  # stable: ties stay in room id order
    return rows


def csv_channels(rows: list[dict]) -> list[list[str]]:
    """Every row of the list (not one page)."""
    header = ["Room type", "Name", "Messages", "Last Update Date", "Creation Date", "Posters", "Last Posted"]
    out = [[*header, "Members"]]
    for row in rows:
        room = row["room"]
        name = room.get("name") or ", ".join(room.get("usernames", []))
        out.append(
            [
                room["t"],
                spreadsheet_safe(name),
                str(row["messages"]),
                room.get("_updatedAt", ""),
                room.get("ts", ""),
                str(row["posters"]),
                row["lastPosted"] or "",
                str(row["members"]),
            ]
        )
    return out


def expected_room(db, rid: str, start: datetime, end: datetime, zone_name: str, bots: str = "include") -> dict:
    """channels/room recounted: the room's messages sent and their distinct authors per local day (newest first),
    the period's against the range before, the five authors with the most messages (ties by _id, the current
    username when the user exists), and the messages by the zone's wall-clock hour."""
    zone = ZoneInfo(zone_name)
    in_range, before = range_days(start, end, zone)
    per_day, authors_per_day = Counter(), defaultdict(set)
    previous, by_author, hours = 0, Counter(), Counter()
    bot_ids = bot_user_ids(db)
    for m in db.rocketchat_message.find({"rid": rid}, {"ts": 1, "t": 1, "_hidden": 1, "bot": 1, "u": 1}):
        if "t" in m or m.get("_hidden") is True:
            continue
        author = (m.get("u") or {}).get("_id")
        is_bot = "bot" in m or author in bot_ids
        if (bots == "exclude" and is_bot) or (bots == "only" and not is_bot):
            continue
        local = m["ts"].astimezone(zone)
        if local.date() in in_range:
            per_day[local.date()] += 1
            hours[local.hour] += 1
            if isinstance(author, str):
                authors_per_day[local.date()].add(author)
                by_author[author] += 1
        elif local.date() in before:
            previous += 1
    shown = room_shown(db.rocketchat_room.find_one({"_id": rid}))
    names = {u["_id"]: u.get("username") for u in db.users.find({}, {"username": 1})}
    top = []
    for uid, n in sorted(by_author.items(), key=lambda item: (-item[1], item[0]))[:5]:
        row = {"_id": uid}
        if isinstance(names.get(uid), str):
            row["username"] = names[uid]
        row["messages"] = n
        top.append(row)
    days = sorted(in_range, reverse=True)
    total = sum(per_day.values())
    return {
        "room": shown,
        "days": [
            {"day": local_midnight(d, zone), "messages": per_day[d], "posters": len(authors_per_day[d])} for d in days
        ],
        "period": {
            "messages": total,
            "variation": total - previous,
            "posters": len(set().union(*authors_per_day.values())),
        },
        "topPosters": top,
        "hours": [{"hour": h, "messages": hours[h]} for h in range(24)],
        "success": True,
    }

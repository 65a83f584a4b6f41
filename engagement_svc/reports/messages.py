"""The messages tab's answers, from counts to the exact JSON of each endpoint. No database code here."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from engagement_svc.days import iso_seconds


@lru_cache(maxsize=131_072)
def day_entry(midnight_s: int, messages: int, field: str = "messages") -> str:
    """One element of `days`, as JSON: the day's local midnight (seconds since the epoch) as a UTC instant, and
    its count. Cached, since a closed day's entry never changes (and zones whose midnight is the same instant
    share it): a long range is mostly a join of ready-made strings."""
    return f'{{"day":"{iso_seconds(midnight_s)}","{field}":{messages}}}'


def messages_sent_json(midnights: Sequence[int], totals: Sequence[int], field: str = "messages") -> str:
    """The endpoint's body from the local midnights and totals of the window before the range and of the range
    (oldest first, equally long): every day of the range newest first, zeros included; the period's variation
    against the window before; the last day's against the day before it."""
    n = len(totals) // 2
    previous, in_range = totals[:n], totals[n:]
    period = sum(in_range)
    yesterday = totals[-2]
    days = ",".join([day_entry(midnights[i], totals[i], field) for i in range(len(totals) - 1, n - 1, -1)])
    return (
        f'{{"days":[{days}],"period":{{"count":{period},"variation":{period - sum(previous)}}},'
        f'"yesterday":{{"count":{yesterday},"variation":{totals[-1] - yesterday}}},"success":true}}'
    )


ROOM_TYPE_ORDER = ("c", "p", "d")  # the types the dashboard shows, and how ties are ordered


def origins(per_type: Mapping[str, int]) -> list[dict[str, Any]]:
    """Exactly c, p and d, zeros included, most messages first, ties in the order c, p, d."""
    rows = sorted(ROOM_TYPE_ORDER, key=lambda t: (-per_type.get(t, 0), ROOM_TYPE_ORDER.index(t)))
    return [{"t": t, "messages": per_type.get(t, 0)} for t in rows]


def origin_json(per_type: Mapping[str, int]) -> str:
    return json.dumps({"origins": origins(per_type), "success": True}, separators=(",", ":"))


def top_five(per_room: Mapping[str, int], kind_of: Callable[[str], str | None]) -> list[tuple[str, int]]:
    """The five rooms (c, p or d) with the most messages, most first, ties by id; rooms with none never."""
    rows = ((rid, n) for rid, n in per_room.items() if n > 0 and kind_of(rid) in ROOM_TYPE_ORDER)
    return heapq.nsmallest(5, rows, key=lambda row: (-row[1], row[0]))


def top_five_row(room: Mapping[str, Any], messages: int) -> dict[str, Any]:
    """One row: the room's id and type, its current name (fname, else name; absent without either), its
    usernames for direct rooms ([] for others), and its messages."""
    row: dict[str, Any] = {"_id": room["_id"], "t": room.get("t")}
    name = room.get("fname") or room.get("name")
    if isinstance(name, str) and name:
        row["name"] = name
    usernames = room.get("usernames")
    row["usernames"] = usernames if room.get("t") == "d" and isinstance(usernames, list) else []
    row["messages"] = messages
    return row


def top_five_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"channels": rows, "success": True}, separators=(",", ":"), default=str)

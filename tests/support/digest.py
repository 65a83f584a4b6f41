"""What a digest should say, asked of the API (its endpoints over HTTP) and read back from a posted message."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

API = "/api/v1/engagement-dashboard/"


def days_of(period: str, zone: ZoneInfo, now: datetime) -> tuple[date, date]:
    """The first and last day of the period ending yesterday in the zone."""
    last = now.astimezone(zone).date() - timedelta(days=1)
    return last - timedelta(days={"7d": 7, "30d": 30}[period] - 1), last


def range_params(first: date, last: date, zone: ZoneInfo) -> dict[str, str]:
    def js(day: date) -> str:
        utc = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {"start": js(first), "end": js(last), "timezone": zone.key}


def shown_change(value: float, previous: float, relative: bool = True) -> str:
    """The change as the digest's contract writes it: percent rounded half away from zero, or `new`; a
    difference for counts of things."""
    if not relative:
        return "0" if value == previous else f"{value - previous:+d}"
    if previous == 0:
        return "new" if value else "0%"
    percent = (value - previous) * 100 / previous
    rounded = math.floor(abs(percent) + 0.5) * (1 if percent > 0 else -1)
    return f"{rounded:+d}%" if rounded else "0%"


async def _get(client, headers, path: str, params: dict) -> dict:
    response = await client.get(API + path, params=params, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def api_figures(client, headers, first: date, last: date, zone: ZoneInfo) -> dict[str, tuple[float, float]]:
    """Per figure's title: (the period's value, the previous period's), from the endpoints."""
    n = (last - first).days + 1
    now = range_params(first, last, zone)
    before = range_params(first - timedelta(days=n), first - timedelta(days=1), zone)
    out: dict[str, tuple[float, float]] = {}
    for title, path in (
        ("Messages", "messages/messages-sent"),
        ("People posting", "users/posting-users"),
        ("New users", "users/new-users"),
    ):
        period = (await _get(client, headers, path, now))["period"]
        out[title] = (period["count"], period["count"] - period["variation"])
    active = [(await _get(client, headers, "users/active-users", p))["month"] for p in (now, before)]
    out["DAU (average per day)"] = tuple(sum(d["users"] for d in days) / len(days) for days in active)
    out["WAU (its last 7 days)"] = (active[0][0]["wau"], active[1][0]["wau"])
    out["MAU (its last 30 days)"] = (active[0][0]["mau"], active[1][0]["mau"])
    for title, path in (("Silent channels", "channels/list"), ("Dormant seats", "users/members")):
        activity = "silent" if title.startswith("Silent") else "dormant"
        totals = [
            (await _get(client, headers, path, {**p, "activity": activity, "count": "1"}))["total"]
            for p in (now, before)
        ]
        out[title] = (totals[0], totals[1])
    return out


async def api_rooms(client, headers, first: date, last: date, zone: ZoneInfo) -> list[tuple[dict, int]]:
    """The top five's rows, each with its messages in the period before (channels/room's variation)."""
    now = range_params(first, last, zone)
    rows = (await _get(client, headers, "messages/top-five-popular-channels", now))["channels"]
    out = []
    for row in rows:
        story = await _get(client, headers, "channels/room", {**now, "roomId": row["_id"]})
        out.append((row, row["messages"] - story["period"]["variation"]))
    return out


FIELD = re.compile(r"^([\d,.]+) \(([^)]+)\)$")


def posted_fields(message: dict) -> dict[str, tuple[str, str]]:
    """The Activity card's fields: title -> (the number as written, the change as written)."""
    (activity,) = [a for a in message["attachments"] if a["title"] == "Activity"]
    out = {}
    for field in activity["fields"]:
        m = FIELD.match(field["value"])
        assert m, field
        out[field["title"]] = (m.group(1), m.group(2))
    return out

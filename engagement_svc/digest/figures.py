"""A digest's numbers, asked of the service's own reports in-process (the code the API runs, through the same
`Sources`), so that each equals what the endpoint answers for the same days: messages-sent, posting-users,
active-users, new-users, top-five-popular-channels and channels/room, channels/list (silent) and users/members
(dormant); each for the period and for the one before it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engagement_svc.digest.period import Period
from engagement_svc.reports import (
    active_users,
    channel_room,
    channels_list,
    members,
    messages_sent,
    new_users,
    posting_users,
    top_five,
)
from engagement_svc.reports.queries import NotFound
from engagement_svc.reports.report import Report
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings


@dataclass(frozen=True)
class Figure:
    """One headline number of the period and of the one before; `relative`: its change is shown in percent, else
    as a difference (counts of things, where +2 says more than +15%)."""

    title: str
    value: float
    previous: float
    relative: bool = True
    decimals: int = 0


@dataclass(frozen=True)
class Room:
    """One of the top five rooms: what it is shown as, its type, its messages in the period and in the one before."""

    id: str
    kind: str  # c, p or d
    name: str
    messages: int
    previous: int


@dataclass(frozen=True)
class Digest:
    period: Period
    figures: list[Figure]
    rooms: list[Room]


async def answer(report: Report[Any], sources: Sources, settings: Settings, params: dict[str, str]) -> Any:
    """The endpoint's JSON for these parameters, parsed and answered as the API does it."""
    body = await report.json(sources, report.params.parse(params, settings))
    return json.loads(body if isinstance(body, str) else "".join(body))


def _shown(row: dict[str, Any]) -> str:
    """A direct room is never named (its name is who talks to whom); a channel or group by its name."""
    if row.get("t") == "d":
        return "a direct conversation"
    return str(row.get("name") or row["_id"])


async def _active(sources: Sources, settings: Settings, period: Period) -> tuple[float, int, int]:
    """The average of the period's daily active users, and the WAU and MAU of its last day."""
    days = (await answer(active_users.REPORT, sources, settings, period.query()))["month"]
    last = days[0]  # newest first
    return sum(d["users"] for d in days) / len(days), last["wau"], last["mau"]


async def _total(report: Report[Any], sources: Sources, settings: Settings, params: dict[str, str]) -> int:
    return int((await answer(report, sources, settings, {**params, "count": "1"}))["total"])


async def collect(sources: Sources, settings: Settings, period: Period) -> Digest:
    now, before = period.query(), period.previous.query()
    sent = (await answer(messages_sent.REPORT, sources, settings, now))["period"]
    posting = (await answer(posting_users.REPORT, sources, settings, now))["period"]
    joined = (await answer(new_users.REPORT, sources, settings, now))["period"]
    dau, wau, mau = await _active(sources, settings, period)
    dau_before, wau_before, mau_before = await _active(sources, settings, period.previous)
    silent = {"activity": "silent"}
    dormant = {"activity": "dormant"}
    figures = [
        Figure("Messages", sent["count"], sent["count"] - sent["variation"]),
        Figure("People posting", posting["count"], posting["count"] - posting["variation"]),
        Figure("DAU (average per day)", dau, dau_before, decimals=1),
        Figure("WAU (its last 7 days)", wau, wau_before),
        Figure("MAU (its last 30 days)", mau, mau_before),
        Figure("New users", joined["count"], joined["count"] - joined["variation"]),
        Figure(
            "Silent channels",
            await _total(channels_list.REPORT, sources, settings, {**now, **silent}),
            await _total(channels_list.REPORT, sources, settings, {**before, **silent}),
            relative=False,
        ),
        Figure(
            "Dormant seats",
            await _total(members.REPORT, sources, settings, {**now, **dormant}),
            await _total(members.REPORT, sources, settings, {**before, **dormant}),
            relative=False,
        ),
    ]
    rooms = []
    for row in (await answer(top_five.REPORT, sources, settings, now))["channels"]:
        try:
            story = await answer(channel_room.REPORT, sources, settings, {**now, "roomId": row["_id"]})
        except NotFound:  # deleted since the top five was read: a room that is gone is not shown
            continue
        messages = row["messages"]
        rooms.append(Room(row["_id"], row["t"], _shown(row), messages, messages - story["period"]["variation"]))
    return Digest(period, figures, rooms)

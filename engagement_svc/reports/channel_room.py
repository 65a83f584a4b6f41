"""channels/room: one room's story over the range: its messages and posters per day, the period's against the range
before, its top five posters, and its messages by the zone's wall-clock hour. Read from the kept counts of that
room's keys alone (messages per room; messages per room and author)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from engagement_svc.counting.catalog import MESSAGES, PART, POSTS
from engagement_svc.reports.channels_list import room_json
from engagement_svc.reports.csv import Lines
from engagement_svc.reports.daily import named_days_lines
from engagement_svc.reports.queries import ROOM, NotFound, RoomQuery
from engagement_svc.reports.remembered import followed, remembered
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.rooms import ROOM_TYPE_ORDER
from engagement_svc.reports.sources import Sources
from engagement_svc.reports.windows import range_and_before

NOT_FOUND = "Room not found [error-room-not-found]"  # Rocket.Chat's text and error code
TOP = 5
HOURS = 24


class Story(NamedTuple):
    """Oldest day first: each day's local midnight and its (messages, posters); the period's messages, those of
    the range before and its posters; per author, its messages in the range; per wall-clock hour, its messages."""

    midnights: list[int]
    days: list[tuple[int, int]]
    messages: int
    before: int
    posters: int
    authors: dict[str, int]
    hours: list[int]

    @property
    def nbytes(self) -> int:
        return 500 + 100 * len(self.days) + 100 * len(self.authors)


async def story(sources: Sources, q: RoomQuery) -> Story:
    also = (await followed(sources.counts, POSTS, q, wait=False),)  # its posters' counts, besides its messages'
    key = REPORT.key(q, "story")
    return await remembered(sources.counts, MESSAGES, key, lambda: _counted(sources, q), also, q, wait=False)


async def _counted(sources: Sources, q: RoomQuery) -> Story:
    counts, only = sources.counts, frozenset({q.room})
    messages, posts = MESSAGES.counted_for(q.bots), POSTS.counted_for(q.bots)
    spans = sources.calendar.day_spans(q.zone, q.first_day, q.last_day)
    per_day = await counts.sums(MESSAGES, spans, messages, only)
    posters = await counts.distinct(POSTS, spans, posts, only)
    in_range, before = range_and_before(q, sources.calendar)
    period, previous = await counts.sums(MESSAGES, [in_range, before], messages, only)
    (in_period,) = await counts.distinct(POSTS, [in_range], posts, only)
    authors: dict[str, int] = {}
    for key, n in (await counts.sums_by_key(POSTS, in_range, posts, only)).items():
        author = key.split(PART, 1)[1]
        authors[author] = authors.get(author, 0) + n
    days_hours = sources.calendar.hour_spans(q.zone, q.first_day, q.last_day)
    flat = [span for day in days_hours for span in day]
    sums = await counts.sums(MESSAGES, flat, messages, only)
    hours = [sum(sums[i] for i in range(hour, len(sums), HOURS)) for hour in range(HOURS)]
    days = list(zip(per_day, posters, strict=True))
    return Story([s.lo_s for s in spans], days, period, previous, in_period, authors, hours)


def top_posters(authors: Mapping[str, int]) -> list[tuple[str, int]]:
    """The five authors with the most messages, most first, ties by `_id`."""
    return sorted(authors.items(), key=lambda item: (-item[1], item[0]))[:TOP]


async def _room(sources: Sources, q: RoomQuery) -> Mapping[str, Any]:
    """The room's document; a room that does not exist, or is not a channel, group or direct room: a 404."""
    room = (await sources.rooms.documents([q.room])).get(q.room)
    if room is None or room.get("t") not in ROOM_TYPE_ORDER:
        raise NotFound(NOT_FOUND)
    return room


def story_json(
    room: Mapping[str, Any], found: Story, names: Mapping[str, str | None], iso: Callable[[int], str]
) -> str:
    days = [
        {"day": iso(found.midnights[i]), "messages": m, "posters": p}
        for i, (m, p) in reversed(list(enumerate(found.days)))
    ]
    top: list[dict[str, Any]] = []
    for uid, n in top_posters(found.authors):
        row: dict[str, Any] = {"_id": uid}
        if names.get(uid) is not None:
            row["username"] = names[uid]
        row["messages"] = n
        top.append(row)
    body = {
        "room": room_json(room),
        "days": days,
        "period": {"messages": found.messages, "variation": found.messages - found.before, "posters": found.posters},
        "topPosters": top,
        "hours": [{"hour": h, "messages": n} for h, n in enumerate(found.hours)],
        "success": True,
    }
    return json.dumps(body, separators=(",", ":"))


async def json_answer(sources: Sources, q: RoomQuery) -> str:
    room = await _room(sources, q)
    found = await story(sources, q)
    _, people = await sources.people.everyone()
    names = {uid: (people[uid].username if uid in people else None) for uid, _ in top_posters(found.authors)}
    return story_json(room, found, names, sources.calendar.iso_seconds)


async def csv_lines(sources: Sources, q: RoomQuery) -> Lines:
    """Per day of the range, newest first: its local midnight as a UTC instant, its messages and posters."""
    await _room(sources, q)
    found = await story(sources, q)
    rows: Sequence[tuple[int, int]] = found.days
    return named_days_lines(found.midnights, rows, sources.calendar.iso_seconds)


REPORT = Report(
    path=f"{DASHBOARD}/channels/room",
    summary="one room: messages and posters per day, the period's, its top five posters, messages by hour",
    params=ROOM,
    json=json_answer,
    csv=csv_lines,
    csv_name="channel-room",
    csv_header=("Date", "Messages", "Posters"),
)

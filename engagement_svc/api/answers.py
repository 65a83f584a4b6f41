"""Each endpoint's answer: the counts it needs from the engine, handed to its report, as JSON or as a CSV table.

The glue between layers: the engine counts, `rocketchat.rooms` reads room documents, `reports` shapes the body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from typing import TypeVar

from engagement_svc.counting.catalog import ACTIVE_USERS, FLAG, MESSAGES, NEW_USERS, Metric
from engagement_svc.counting.engine import Engine
from engagement_svc.counting.slots import Span, day_spans, hour_spans, span_of_seconds
from engagement_svc.days import iso_seconds
from engagement_svc.reports import channels, messages, users
from engagement_svc.reports.csv import Table, cell, line, lines_of
from engagement_svc.reports.queries import ListQuery, RangeQuery
from engagement_svc.rocketchat.rooms import room_documents

T = TypeVar("T")
ROOM_RETRIES = 3  # a room deleted between counting and reading its document: the answer is made again


async def _existing_rooms(engine: Engine, rids: list[str]) -> tuple[dict[str, dict], bool]:
    """The rooms' documents, and whether all of them still exist. A room deleted since the room types were read
    is forgotten at once, so that the answer made again leaves it out."""
    rooms = await room_documents(engine.db, rids)
    gone = [rid for rid in rids if rid not in rooms]
    for rid in gone:
        engine.rooms.forget(rid)
    return rooms, not gone


def _file(name: str, q: RangeQuery) -> str:
    return f"{name}_{q.first_day.isoformat()}_{q.last_day.isoformat()}.csv"


def _windows(q: RangeQuery) -> tuple[Span, Span]:
    """The range as one span, and the window of as many days before it."""
    spans = day_spans(q.zone, q.first_day - timedelta(days=q.days), q.last_day)
    n = q.days
    return (
        span_of_seconds(spans[n].lo_s, spans[-1].hi_s),
        span_of_seconds(spans[0].lo_s, spans[n - 1].hi_s),
    )


# -- messages/messages-sent ---------------------------------------------------------------------------------------
async def _daily(engine: Engine, metric: Metric, q: RangeQuery) -> tuple[list[int], list[int]]:
    """Local midnights and totals of the window before the range, then of the range, day by day."""
    spans = day_spans(q.zone, q.first_day - timedelta(days=q.days), q.last_day)
    totals = await engine.counts(metric, spans, counted=metric.counted_for(q.bots))
    return [s.lo_s for s in spans], totals


def _daily_table(name: str, header: list[str], q: RangeQuery, midnights: list[int], totals: list[int]) -> Table:
    days = [(iso_seconds(midnights[i]), totals[i]) for i in range(len(totals) - 1, q.days - 1, -1)]
    return Table(_file(name, q), header, lines_of(days))


async def messages_sent(engine: Engine, q: RangeQuery) -> str:
    return messages.messages_sent_json(*await _daily(engine, MESSAGES, q))


async def messages_sent_csv(engine: Engine, q: RangeQuery) -> Table:
    return _daily_table("messages-sent", ["Date", "Messages"], q, *await _daily(engine, MESSAGES, q))


# -- users/new-users ----------------------------------------------------------------------------------------------
async def new_users(engine: Engine, q: RangeQuery) -> str:
    return users.new_users_json(*await _daily(engine, NEW_USERS, q))


async def new_users_csv(engine: Engine, q: RangeQuery) -> Table:
    return _daily_table("new-users", ["Date", "New Users"], q, *await _daily(engine, NEW_USERS, q))


# -- messages/origin ----------------------------------------------------------------------------------------------
async def _remembered(engine: Engine, key: tuple, compute: Callable[[], Awaitable[T]], metric: Metric = MESSAGES) -> T:
    """An answer derived from a metric's counts, remembered while they stay the same (see `Engine.stamp`)."""
    stamp = engine.stamp(metric)
    found = engine.remembered(key, stamp)
    if found is None:
        found = await compute()
        engine.remember(key, stamp, found)
    return found


async def _origin(engine: Engine, q: RangeQuery) -> dict[str, int]:
    key = ("origin", q.zone.key, q.first_day, q.last_day, q.bots)
    return await _remembered(engine, key, lambda: _origin_counted(engine, q))


async def _origin_counted(engine: Engine, q: RangeQuery) -> dict[str, int]:
    in_range, _ = _windows(q)
    counted = MESSAGES.counted_for(q.bots)
    per_class = (await engine.counts(MESSAGES, [in_range], by="class"))[0]
    per_type: dict[str, int] = {}
    for kind, n in per_class.items():
        if kind in counted:
            base = kind.split(FLAG, 1)[0]
            per_type[base] = per_type.get(base, 0) + n
    return per_type


async def origin(engine: Engine, q: RangeQuery) -> str:
    return messages.origin_json(await _origin(engine, q))


async def origin_csv(engine: Engine, q: RangeQuery) -> Table:
    body = messages.origins(await _origin(engine, q))
    rows = [(o["t"], o["messages"]) for o in body]
    return Table(_file("messages-origin", q), ["Room Type", "Messages"], lines_of(rows))


# -- messages/top-five-popular-channels ---------------------------------------------------------------------------
async def _top_five(engine: Engine, q: RangeQuery) -> list[dict]:
    in_range, _ = _windows(q)
    key = ("top-five", q.zone.key, q.first_day, q.last_day, q.bots)

    async def compute() -> list[tuple[str, int]]:
        per_room = await engine.key_sums(MESSAGES, in_range, MESSAGES.counted_for(q.bots))
        return messages.top_five(per_room, engine.rooms.kind)

    for _ in range(ROOM_RETRIES):
        best = await _remembered(engine, key, compute)
        rooms, complete = await _existing_rooms(engine, [rid for rid, _ in best])
        if complete:
            break
    return [messages.top_five_row(rooms[rid], n) for rid, n in best if rid in rooms]


async def top_five(engine: Engine, q: RangeQuery) -> str:
    return messages.top_five_json(await _top_five(engine, q))


async def top_five_csv(engine: Engine, q: RangeQuery) -> Table:
    rows = [(r["t"], r.get("name") or ", ".join(r["usernames"]), r["messages"]) for r in await _top_five(engine, q)]
    return Table(_file("messages-top-five", q), ["Room Type", "Name", "Messages"], lines_of(rows, text_columns=(1,)))


# -- channels/list ------------------------------------------------------------------------------------------------
async def _channel_rows(engine: Engine, q: ListQuery) -> Sequence[channels.Row]:
    """Every row of the range, in the requested order. Remembered (sorted, compactly) while the counts stay the
    same, for sorts by a count; sorts by a room's field read every row's room."""
    if q.sort not in channels.ROOM_SORTS:
        key = ("channels", q.zone.key, q.first_day, q.last_day, q.bots, q.sort, q.descending)
        return await _remembered(engine, key, lambda: _compact_rows(engine, q))
    return await _counted_rows(engine, q)


async def _compact_rows(engine: Engine, q: ListQuery) -> channels.Rows:
    return channels.Rows(await _counted_rows(engine, q))


async def _counted_rows(engine: Engine, q: ListQuery) -> list[channels.Row]:
    in_range, before = _windows(q)
    counted = MESSAGES.counted_for(q.bots)
    current = await engine.key_sums(MESSAGES, in_range, counted)
    previous = await engine.key_sums(MESSAGES, before, counted)
    found = channels.rows(current, previous, engine.rooms.kind)
    if q.sort in channels.ROOM_SORTS:
        rooms = await room_documents(engine.db, [r.rid for r in found])
        found = channels.ordered([r for r in found if r.rid in rooms], q.sort, q.descending, rooms)
    else:
        found = channels.ordered(found, q.sort, q.descending)
    return found


async def channel_list(engine: Engine, q: ListQuery) -> str:
    for _ in range(ROOM_RETRIES):
        found = await _channel_rows(engine, q)
        page = found[q.offset : q.offset + q.count]
        rooms, complete = await _existing_rooms(engine, [r.rid for r in page])
        if complete:
            break
    return channels.list_json(((r, rooms[r.rid]) for r in page if r.rid in rooms), len(found), q.offset)


async def channel_list_csv(engine: Engine, q: ListQuery) -> Table:
    """Every row of the range (not one page), the rooms read a thousand at a time as the answer is streamed."""
    found = await _channel_rows(engine, q)

    async def stream() -> AsyncIterator[str]:
        for i in range(0, len(found), 1000):
            batch = found[i : i + 1000]
            rooms = await room_documents(engine.db, [r.rid for r in batch])
            for row in batch:
                room = rooms.get(row.rid)
                if room is not None:
                    yield line(cell(v, text=j == 1) for j, v in enumerate(channels.csv_cells(row, room)))

    header = ["Room type", "Name", "Messages", "Last Update Date", "Creation Date"]
    return Table(_file("channels-list", q), header, stream())


# -- users/active-users -------------------------------------------------------------------------------------------
MONTH_DAYS, WEEK_DAYS = 30, 7


def _active_days_key(q: RangeQuery) -> tuple:
    return ("active-users", q.zone.key, q.first_day, q.last_day, q.bots)


async def _active_days(engine: Engine, q: RangeQuery) -> list[users.ActiveDay]:
    return await _remembered(engine, _active_days_key(q), lambda: _active_days_counted(engine, q), ACTIVE_USERS)


async def _active_days_counted(engine: Engine, q: RangeQuery) -> list[users.ActiveDay]:
    """Per day of the range: its active users, and the distinct users of the 7 and 30 days ending with it (the
    union of those days' users: a user is active in a window when in one of its days)."""
    counted = ACTIVE_USERS.counted_for(q.bots)
    spans = day_spans(q.zone, q.first_day - timedelta(days=MONTH_DAYS - 1), q.last_day)
    lists = await engine.counts(ACTIVE_USERS, spans, by="keys", counted=counted)  # every day, filled at once
    wide = users.window_distinct(lists, (WEEK_DAYS, MONTH_DAYS))
    first = MONTH_DAYS - 1
    return [
        users.ActiveDay(q.first_day + timedelta(days=i - first), lists[i], *wide[i]) for i in range(first, len(spans))
    ]


# An answer listing more user ids than this (about 15 MB of JSON: remembered answers take one of up to 16 MB) is
# written day by day, never held whole (a year at 20M messages: 39 MB). A shorter one is made whole and
# remembered: 90 days at 20M messages (10.6 MB) answered again in a few ms instead of 46 ms written anew.
STREAMED_IDS = 750_000


async def active_users(engine: Engine, q: RangeQuery) -> str | Iterator[str]:
    """The body is remembered, not its days as well (90 days at 20M messages: 10.6 MB of JSON, 4.5 MB of days):
    a month of `usersList` on a big server is megabytes of JSON. A longer one is never held whole: its days are
    remembered and it is written to the client a day at a time."""
    key = ("active-users.json", q.zone.key, q.first_day, q.last_day, q.bots)

    async def compute() -> str | Iterator[str]:
        stamp = engine.stamp(ACTIVE_USERS)
        days = engine.remembered(_active_days_key(q), stamp) or await _active_days_counted(engine, q)
        if sum(len(d.users) for d in days) > STREAMED_IDS:
            engine.remember(_active_days_key(q), stamp, days)
            return users.active_users_pieces(days)  # pieces: never remembered
        return users.active_users_json(days)

    return await _remembered(engine, key, compute, ACTIVE_USERS)


async def active_users_csv(engine: Engine, q: RangeQuery) -> Table:
    found = await _active_days(engine, q)
    midnights = [s.lo_s for s in day_spans(q.zone, q.first_day, q.last_day)]
    rows = [(iso_seconds(midnights[i]), len(d.users), d.wau, d.mau) for i, d in reversed(list(enumerate(found)))]
    return Table(_file("active-users", q), ["Date", "DAU", "WAU", "MAU"], lines_of(rows))


# -- users/users-by-time-of-the-day-in-a-week ---------------------------------------------------------------------
async def _by_hour(engine: Engine, q: RangeQuery) -> tuple[list, list[list[int]]]:
    key = ("by-hour", q.zone.key, q.first_day, q.last_day, q.bots)
    return await _remembered(engine, key, lambda: _by_hour_counted(engine, q), ACTIVE_USERS)


async def _by_hour_counted(engine: Engine, q: RangeQuery) -> tuple[list, list[list[int]]]:
    """The range's days and, per day, the distinct active users of each wall-clock hour 0-23."""
    per_day = hour_spans(q.zone, q.first_day, q.last_day)
    flat = [s for hours in per_day for s in hours]
    found = await engine.counts(ACTIVE_USERS, flat, by="distinct", counted=ACTIVE_USERS.counted_for(q.bots))
    days = [q.first_day + timedelta(days=i) for i in range(q.days)]
    return days, [found[24 * i : 24 * i + 24] for i in range(q.days)]


async def by_hour(engine: Engine, q: RangeQuery) -> str:
    return users.by_hour_json(*await _by_hour(engine, q))


async def by_hour_csv(engine: Engine, q: RangeQuery) -> Table:
    days, hours = await _by_hour(engine, q)
    per_day = hour_spans(q.zone, q.first_day, q.last_day)
    rows = [
        (iso_seconds(per_day[i][h].lo_s), hours[i][h]) for i in range(len(days) - 1, -1, -1) for h in range(23, -1, -1)
    ]
    return Table(_file("users-by-time-of-the-day", q), ["Date", "Users"], lines_of(rows))


# -- users/chat-busier/hourly-data and weekly-data ----------------------------------------------------------------
async def _hourly(engine: Engine, q: RangeQuery) -> list[int]:
    key = ("hourly", q.zone.key, q.last_day, q.bots)
    return await _remembered(engine, key, lambda: _hourly_counted(engine, q), ACTIVE_USERS)


async def _hourly_counted(engine: Engine, q: RangeQuery) -> list[int]:
    """The day of `start`: the distinct active users of each two hours [2i, 2i + 2), i = 0..11."""
    hours = hour_spans(q.zone, q.last_day, q.last_day)[0]
    pairs = [span_of_seconds(hours[2 * i].lo_s, max(hours[2 * i + 1].hi_s, hours[2 * i].hi_s)) for i in range(12)]
    return await engine.counts(ACTIVE_USERS, pairs, by="distinct", counted=ACTIVE_USERS.counted_for(q.bots))


async def hourly(engine: Engine, q: RangeQuery) -> str:
    return users.hourly_json(await _hourly(engine, q))


async def hourly_csv(engine: Engine, q: RangeQuery) -> Table:
    pairs = await _hourly(engine, q)
    rows = [(row["hour"], row["users"]) for row in users.hourly_rows(pairs)]
    return Table(f"busier-hours_{q.last_day.isoformat()}.csv", ["Hour", "Users"], lines_of(rows))


async def _weekly(engine: Engine, q: RangeQuery) -> tuple[list, list[int], list[int]]:
    key = ("weekly", q.zone.key, q.last_day, q.bots)
    return await _remembered(engine, key, lambda: _weekly_counted(engine, q), ACTIVE_USERS)


async def _weekly_counted(engine: Engine, q: RangeQuery) -> tuple[list, list[int], list[int]]:
    """The seven days ending with the day of `start`: days, local midnights, distinct active users."""
    spans = day_spans(q.zone, q.last_day - timedelta(days=WEEK_DAYS - 1), q.last_day)
    found = await engine.counts(ACTIVE_USERS, spans, by="distinct", counted=ACTIVE_USERS.counted_for(q.bots))
    days = [q.last_day - timedelta(days=WEEK_DAYS - 1 - i) for i in range(WEEK_DAYS)]
    return days, [s.lo_s for s in spans], found


async def weekly(engine: Engine, q: RangeQuery) -> str:
    days, _, found = await _weekly(engine, q)
    return users.weekly_json(days, found)


async def weekly_csv(engine: Engine, q: RangeQuery) -> Table:
    _, midnights, found = await _weekly(engine, q)
    rows = [(iso_seconds(midnights[i]), found[i]) for i in range(WEEK_DAYS - 1, -1, -1)]
    return Table(f"busier-days_{q.last_day.isoformat()}.csv", ["Date", "Users"], lines_of(rows))

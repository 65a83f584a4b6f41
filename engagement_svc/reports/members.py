"""users/members: every account with what it did in the range (messages, days active, by client), and the last
day it was active and posted, however long ago; sorted, filtered (active or dormant seats), one page of it (its
CSV: every row).

What each account did is worked out once per range and zone (`Facts`, a column an attribute, about 80 bytes an
account) and remembered while the counts and the accounts stay the same; each order of its rows once more (an
array of row numbers), so that paging through 100,000 accounts reads a slice.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from engagement_svc.counting.catalog import ACTIVE_USERS, CLIENT_SESSIONS, CLIENTS, FLAG, PART, POSTS, Metric
from engagement_svc.counting.slots import span_of_seconds
from engagement_svc.days import iso_z
from engagement_svc.reports.clients import of_client
from engagement_svc.reports.csv import Lines, lines_of
from engagement_svc.reports.last_days import NEVER, last_days
from engagement_svc.reports.queries import MEMBERS, MembersQuery, RangeQuery
from engagement_svc.reports.remembered import followed
from engagement_svc.reports.report import DASHBOARD, Report
from engagement_svc.reports.sources import Key, Member, Sources

CHANNEL_TYPES = ("c", "p")
ALL_SORTS: dict[str, str] = {"channelMessages": "channel", "daysActive": "days"}  # a sort's column, when renamed


class Facts:
    """Per account (in `_id` order): its messages in the range (all rooms, channels and groups), days active (all,
    per client), and the local midnights of its last day active and last day posted (NEVER: none)."""

    __slots__ = ("channel", "clients", "days", "last_active", "last_posted", "messages", "people")

    def __init__(self, people: Sequence[Member]):
        n = len(people)
        self.people = tuple(people)
        self.messages, self.channel, self.days = (array("q", bytes(8 * n)) for _ in range(3))
        self.clients = tuple(array("q", bytes(8 * n)) for _ in CLIENTS)
        self.last_active, self.last_posted = array("q", [NEVER]) * n, array("q", [NEVER]) * n

    def __len__(self) -> int:
        return len(self.people)

    @property
    def nbytes(self) -> int:
        """About the memory it holds of its own (the accounts are the directory's)."""
        return 200 + (8 + 8 * (5 + len(CLIENTS))) * len(self.people)

    def active(self, i: int) -> bool:
        """Active on some day of the range, or the author of a message sent in it."""
        return self.days[i] > 0 or self.messages[i] > 0


def by_author(per_key: Mapping[str, int]) -> dict[str, int]:
    """Sums per room and author added up per author."""
    out: dict[str, int] = {}
    for key, n in per_key.items():
        author = key.split(PART, 1)[1]
        out[author] = out.get(author, 0) + n
    return out


def _kinds(metric: Metric, types: Iterable[str]) -> tuple[str, ...]:
    """The metric's classes of those room types, flagged ones (bots') included."""
    wanted = set(types)
    return tuple(kind for kind in metric.counted_for("include") if kind.split(FLAG, 1)[0] in wanted)


async def facts(sources: Sources, q: RangeQuery, people: Mapping[str, Member]) -> Facts:
    spans = sources.calendar.day_spans(q.zone, q.first_day, q.last_day)
    in_range = span_of_seconds(spans[0].lo_s, spans[-1].hi_s)
    counts = sources.counts
    messages = by_author(await counts.sums_by_key(POSTS, in_range, POSTS.counted_for("include")))
    channel = by_author(await counts.sums_by_key(POSTS, in_range, _kinds(POSTS, CHANNEL_TYPES)))
    _, last_posted = await last_days(sources, q, spans, POSTS)
    days, last_active = await last_days(sources, q, spans, ACTIVE_USERS)
    clients = [(await counts.presence(CLIENT_SESSIONS, spans, of_client(client, "include")))[0] for client in CLIENTS]
    found = Facts([people[uid] for uid in sorted(people)])
    for i, person in enumerate(found.people):
        uid = person.id
        found.messages[i] = messages.get(uid, 0)
        found.channel[i] = channel.get(uid, 0)
        found.days[i] = days.get(uid, 0)
        for column, per_user in zip(found.clients, clients, strict=True):
            column[i] = per_user.get(uid, 0)
        found.last_active[i] = last_active.get(uid, NEVER)
        found.last_posted[i] = last_posted.get(uid, NEVER)
    return found


def _sort_key(found: Facts, sort: str) -> Callable[[int], Any]:
    """A row's value for the sort; null (NEVER, or a (0,) key) below every value."""
    if sort == "username":
        return lambda i: (0,) if (name := found.people[i].username) is None else (1, name)
    if sort == "createdAt":
        return lambda i: (0,) if (made := found.people[i].created) is None else (1, made)
    column: array[int] = getattr(found, {"lastActive": "last_active", "lastPosted": "last_posted"}.get(sort, sort))
    return column.__getitem__


def ordered(found: Facts, q: MembersQuery) -> array[int]:
    """The row numbers of the accounts the query lists (bots and activity), in its order, ties by `_id`."""
    picked = []
    for i, person in enumerate(found.people):
        if (q.bots == "exclude" and person.bot) or (q.bots == "only" and not person.bot):
            continue
        if q.activity == "active" and not found.active(i):
            continue
        if q.activity == "dormant" and (found.active(i) or not person.active):
            continue
        picked.append(i)
    sort = ALL_SORTS.get(q.sort, q.sort)
    picked.sort(key=_sort_key(found, sort), reverse=q.descending)  # stable: ties stay in `_id` order
    return array("l", picked)


async def _stamp(sources: Sources, q: RangeQuery, generation: Hashable) -> tuple[Hashable, ...] | None:
    """What the answer depends on: the three metrics' counts (see `followed`) and the accounts."""
    stamps = [await followed(sources.counts, metric, q) for metric in (POSTS, ACTIVE_USERS, CLIENT_SESSIONS)]
    return None if any(s is None for s in stamps) else (*stamps, generation)


async def rows(sources: Sources, q: MembersQuery) -> tuple[Facts, array[int]]:
    """The accounts' facts and the row numbers of the query's rows, in order: both remembered."""
    generation, people = await sources.people.everyone()
    stamp = await _stamp(sources, q, generation)
    counts = sources.counts
    facts_key: Key = (REPORT.path, "facts", q.zone.key, q.first_day, q.last_day)
    found = counts.remembered(facts_key, stamp)
    if not isinstance(found, Facts):
        found = await facts(sources, q, people)
        counts.remember(facts_key, stamp, found)
    order_key = REPORT.key(q, "order")
    order = counts.remembered(order_key, stamp)
    if not isinstance(order, array):
        order = ordered(found, q)
        counts.remember(order_key, stamp, order)
    return found, order


def user_json(person: Member) -> dict[str, Any]:
    out: dict[str, Any] = {"_id": person.id}
    if person.username is not None:
        out["username"] = person.username
    if person.name is not None:
        out["name"] = person.name
    out["type"] = person.type
    out["active"] = person.active
    if person.created is not None:
        out["createdAt"] = iso_z(person.created)
    return out


def row_json(found: Facts, i: int, iso: Callable[[int], str]) -> dict[str, Any]:
    last_active, last_posted = found.last_active[i], found.last_posted[i]
    return {
        "user": user_json(found.people[i]),
        "messages": found.messages[i],
        "channelMessages": found.channel[i],
        "daysActive": found.days[i],
        "clients": {client: column[i] for client, column in zip(CLIENTS, found.clients, strict=True)},
        "lastActive": None if last_active == NEVER else iso(last_active),
        "lastPosted": None if last_posted == NEVER else iso(last_posted),
    }


async def json_answer(sources: Sources, q: MembersQuery) -> str:
    found, order = await rows(sources, q)
    page = [row_json(found, i, sources.calendar.iso_seconds) for i in order[q.offset : q.offset + q.count]]
    body = {"members": page, "total": len(order), "offset": q.offset, "count": len(page), "success": True}
    return json.dumps(body, separators=(",", ":"))


def csv_cells(found: Facts, i: int, iso: Callable[[int], str]) -> list[object]:
    """`Username;Name;Type;Active;Created;Messages;Channel Messages;Days Active;Web;Desktop;Mobile;Other;Last Active;
    Last Posted`: null or absent an empty cell."""
    person = found.people[i]
    last_active, last_posted = found.last_active[i], found.last_posted[i]
    return [
        person.username or "",
        person.name or "",
        person.type,
        "true" if person.active else "false",
        iso_z(person.created) if person.created is not None else "",
        found.messages[i],
        found.channel[i],
        found.days[i],
        *(column[i] for column in found.clients),
        "" if last_active == NEVER else iso(last_active),
        "" if last_posted == NEVER else iso(last_posted),
    ]


async def csv_lines(sources: Sources, q: MembersQuery) -> Lines:
    """Every row of the query (not one page), in its order."""
    found, order = await rows(sources, q)
    iso = sources.calendar.iso_seconds
    return lines_of((csv_cells(found, i, iso) for i in order), text_columns=(0, 1, 2))


REPORT = Report(
    path=f"{DASHBOARD}/users/members",
    summary="every account with its messages, days active (by client), last active and last posted; one page, sorted",
    params=MEMBERS,
    json=json_answer,
    csv=csv_lines,
    csv_name="members",
    csv_header=(
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
    ),
)

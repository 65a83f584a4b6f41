"""Where a report's figures come from, and all a report may ask of them: the engine's typed reads and its
remembered answers (`Counts`), Rocket.Chat's rooms (`Rooms`) and accounts (`People`). All are protocols: a report
sees no database handle and imports neither the engine nor `rocketchat/`; the application hands it the real ones
(`Sources`, made once in resources.py), a test may hand it fakes."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeAlias

from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.slots import Span
from engagement_svc.mongo_types import Document
from engagement_svc.reports.calendar import Calendar

# A remembered answer's key (see `Report.key`), and what the answer depends on (see `Counts.stamp`).
Key: TypeAlias = tuple[Hashable, ...]
Stamp: TypeAlias = tuple[Hashable, ...]


RoomSet: TypeAlias = frozenset[str] | None  # a read of these rooms' keys alone (a team's, one room's); None: all


class Counts(Protocol):
    """The engine's read API (counting/engine.py's `Engine`). `counted`: the classes that count (see
    `Metric.counted_for`: room types, with or without their bots); `rooms`: only the counts of these rooms."""

    async def sums(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None, rooms: RoomSet = None
    ) -> list[int]:
        """Per span, the sum over the keys that count."""
        ...

    async def sums_by_class(self, metric: Metric, spans: Sequence[Span], rooms: RoomSet = None) -> list[dict[str, int]]:
        """Per span, {class: sum} over every class (room types c, p, d, l, v..., flagged ones apart)."""
        ...

    async def sums_by_key(
        self, metric: Metric, span: Span, counted: tuple[str, ...] | None = None, rooms: RoomSet = None
    ) -> dict[str, int]:
        """Per key that counts, its sum over one span, flagged and plain counts of a key added together."""
        ...

    async def subject_counts(
        self, metric: Metric, span: Span, counted: tuple[str, ...] | None = None, rooms: RoomSet = None
    ) -> dict[str, int]:
        """Per room (of these alone, when given), how many different subjects (authors, of a room and author key)
        that count it has in a span; a room with none left out. Read without holding every (room, author) of it."""
        ...

    async def subjects(
        self,
        metric: Metric,
        span: Span,
        counted: tuple[str, ...],
        rooms: frozenset[str],
        among: frozenset[str] | None = None,
    ) -> dict[str, frozenset[str]]:
        """Per room of these, its subjects (of `among` alone, when given) that count in a span (an empty set for a
        room with none)."""
        ...

    async def distinct(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None, rooms: RoomSet = None
    ) -> list[int]:
        """Per span, how many different keys that count have anything in it."""
        ...

    async def key_lists(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None, rooms: RoomSet = None
    ) -> list[list[str]]:
        """Per span, the sorted keys that count with anything in it, flagged ones under their plain key."""
        ...

    async def presence(
        self, metric: Metric, spans: Sequence[Span], counted: tuple[str, ...] | None = None, rooms: RoomSet = None
    ) -> tuple[Mapping[str, int], Mapping[str, int]]:
        """Per subject that counts (a user; an author, of a room and author key) with anything in the spans: in
        how many of them, and the index of the last one."""
        ...

    async def earliest(self, metric: Metric) -> datetime | None:
        """The time of the metric's oldest document (nothing counts before it); None when there is none."""
        ...

    def open_edge(self, metric: Metric) -> tuple[int, Hashable]:
        """Where the open days begin (seconds since the epoch), and what every read of the time before it depends
        on: equal edges, equal reads before it (what is derived from them may be kept; only the rest read anew)."""
        ...

    def changed_keys(self, metric: Metric, since: Stamp | None) -> set[str] | None:
        """The open days' keys counted since an earlier `stamp` of the metric, when nothing else changed since
        (what is derived from the other keys may be kept); None when that cannot be told."""
        ...

    def stamp(self, metric: Metric, open_days: bool = True) -> Stamp | None:
        """What every answer about the metric depends on: equal stamps, equal counts (None: cannot be told).
        Without `open_days`: what an answer that reads none of the metric's open days depends on (never None)."""
        ...

    async def follow(self, metric: Metric, wait: bool = True) -> Stamp | None:
        """`stamp`, after the metric's open days are made to be followed (when they can be): an answer read then
        can be kept, where one read before its open days were followed cannot; without `wait`, the stamp now, the
        open days followed in the background."""
        ...

    def remembered(self, key: Key, stamp: Stamp | None) -> object:
        """What was remembered under `key` at this stamp, else None. One store holds the answers of every report:
        what is kept under a key is known by whoever keeps it (see reports/remembered.py)."""
        ...

    def remember(self, key: Key, stamp: Stamp | None, value: object) -> None:
        """Keep an answer derived from the counts while the stamp holds (within the engine's bounds)."""
        ...


class Rooms(Protocol):
    """Rocket.Chat's rooms (rocketchat/rooms.py's `RoomTypes`)."""

    def kind(self, key: str) -> str | None:
        """The room's type (c, p, d, l, v...), None for a room that no longer exists; for a flagged key, the type
        plus the flag."""
        ...

    def forget(self, rid: str) -> None:
        """A room found gone while answering: it stops counting at once."""
        ...

    async def documents(self, rids: list[str]) -> dict[str, Document]:
        """The rooms' documents (the fields the dashboard shows), by id; a room that no longer exists is absent."""
        ...

    async def every(self, types: tuple[str, ...], team: str | None = None) -> dict[str, str]:
        """Every existing room of these types (of the team, when given): its id and type."""
        ...

    async def team_exists(self, team: str) -> bool:
        """Whether Rocket.Chat has a team of this id."""
        ...

    async def teams(self) -> list[tuple[Document, int]]:
        """Every team (its `_id`, `name`, `type`, `roomId`) with the number of its existing channels and groups."""
        ...

    def version(self) -> Hashable | None:
        """Equal while no room is made or deleted, nor changes type, team, name or member count; None when that
        cannot be told."""
        ...


class Member(Protocol):
    """One account of Rocket.Chat's (rocketchat/people.py's `Person`)."""

    @property
    def id(self) -> str: ...

    @property
    def username(self) -> str | None: ...

    @property
    def name(self) -> str | None: ...

    @property
    def type(self) -> str: ...  # "user" when the account has none

    @property
    def active(self) -> bool: ...  # false only when stored false

    @property
    def created(self) -> datetime | None: ...

    @property
    def bot(self) -> bool: ...  # type bot or app, or the bot role


class People(Protocol):
    """Rocket.Chat's accounts, anonymous ones left out (rocketchat/people.py's `People`)."""

    async def everyone(self) -> tuple[Hashable, Mapping[str, Member]]:
        """What the accounts are as of now (equal when they are the same), and the accounts by id."""
        ...


class NoPeople:
    """No accounts: the sources of a report that lists none."""

    async def everyone(self) -> tuple[Hashable, Mapping[str, Member]]:
        return 0, {}


@dataclass(frozen=True)
class Sources:
    counts: Counts
    rooms: Rooms
    calendar: Calendar = field(default_factory=Calendar)
    people: People = field(default_factory=NoPeople)

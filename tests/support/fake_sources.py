"""What a report reads, faked in memory: the engine's read API counted by brute force over a list of events, and
Rocket.Chat's rooms as a dict. Imports nothing from engagement_svc: it follows the protocols of
reports/sources.py by their documented meaning, so that a misreading of them shared with the engine would show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FLAG = "\x1f"  # a flagged key is the plain key, FLAG and the flag's name ("GENERAL\x1fbot": GENERAL's bot messages)
PART = "\x1e"  # a compound key's parts: "GENERAL\x1eada" (ada's messages in GENERAL), "ada\x1eweb" (ada on the web)


def plain(key: str) -> str:
    return key.split(FLAG, 1)[0]


def subject(metric: Any, key: str) -> str:
    """What a distinct count of the metric counts: the plain key, or the metric's part of a compound key."""
    key = plain(key)
    return key.split(PART)[metric.subject] if PART in key else key


class FakeRooms:
    """Rooms by id. A room in `deleted` still has its type (the map was read before it went) but no document, until
    it is forgotten."""

    def __init__(self, documents: Iterable[dict], deleted: Iterable[str] = ()):
        self.documents_by_id = {d["_id"]: d for d in documents}
        self.deleted = set(deleted)
        self.team_ids = sorted({d["teamId"] for d in self.documents_by_id.values() if "teamId" in d})
        self.changes = 0  # bumped by a test that changes the rooms
        self.forgotten: list[str] = []
        self.reads: list[list[str]] = []  # the ids of each `documents` call

    def kind(self, key: str) -> str | None:
        rid, _, flag = key.partition(FLAG)
        rid = rid.split(PART, 1)[0]  # a room and author key is its room's
        doc = self.documents_by_id.get(rid)
        if doc is None or rid in self.forgotten:
            return None
        return doc.get("t") + (FLAG + flag if flag else "")

    def forget(self, rid: str) -> None:
        self.forgotten.append(rid)

    async def documents(self, rids: list[str]) -> dict[str, dict]:
        self.reads.append(list(rids))
        found = self.documents_by_id
        return {rid: found[rid] for rid in rids if rid in found and rid not in self.deleted}

    async def every(self, types: tuple[str, ...], team: str | None = None) -> dict[str, str]:
        return {
            rid: doc["t"]
            for rid, doc in self.documents_by_id.items()
            if doc.get("t") in types and rid not in self.deleted and (team is None or doc.get("teamId") == team)
        }

    async def team_exists(self, team: str) -> bool:
        return team in self.team_ids

    async def teams(self) -> list[tuple[dict, int]]:
        """A team for each teamId the rooms name (named after it, public), with its channels and groups."""
        counted = [d["teamId"] for d in self.documents_by_id.values() if "teamId" in d and d.get("t") in ("c", "p")]
        return [
            ({"_id": t, "name": t.lower(), "type": 0, "roomId": t + "-main"}, counted.count(t)) for t in self.team_ids
        ]

    def version(self) -> int:
        return self.changes


class FakeCounts:
    """Per metric name, events (second since the epoch, key), each counting 1. A key's class is its room's type for
    a metric of rooms, a compound key's second part for a metric of parts, else "user"; a flagged key's class
    carries the flag. Answers are remembered in a dict under
    a stamp that changes with `change()` and when a room is forgotten (as the engine's does)."""

    def __init__(self, events: dict[str, list[tuple[int, str]]], rooms: FakeRooms | None = None):
        self.events = events
        self.rooms = rooms
        self.version = 0
        self.kept: dict[tuple, tuple[tuple | None, Any]] = {}
        self.calls: list[str] = []  # which reads were made, in order

    def change(self) -> None:
        self.version += 1

    def _class(self, metric: Any, key: str) -> str | None:
        if metric.keys == "rooms":
            assert self.rooms is not None
            return self.rooms.kind(key)
        head, _, flag = key.partition(FLAG)
        kind = head.split(PART, 1)[1] if metric.keys == "parts" else "user"
        return kind + (FLAG + flag if flag else "")

    def _in(self, metric: Any, span: Any, counted: Sequence[str] | None, rooms: Any = None) -> list[str]:
        """The keys of the events in the span, once per event, of a class that counts (of these rooms)."""
        return [
            key
            for second, key in self.events.get(metric.name, [])
            if span.lo_s <= second < span.hi_s
            and (self._class(metric, key) in counted if counted is not None else self._class(metric, key) is not None)
            and (rooms is None or plain(key).split(PART, 1)[0] in rooms)
        ]

    async def sums(
        self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None, rooms: Any = None
    ) -> list[int]:
        self.calls.append("sums")
        return [len(self._in(metric, s, counted, rooms)) for s in spans]

    async def sums_by_class(self, metric: Any, spans: Sequence[Any], rooms: Any = None) -> list[dict[str, int]]:
        self.calls.append("sums_by_class")
        out = []
        for s in spans:
            found: dict[str, int] = {}
            for key in self._in(metric, s, None, rooms):
                kind = self._class(metric, key)
                assert kind is not None
                found[kind] = found.get(kind, 0) + 1
            out.append(found)
        return out

    async def sums_by_key(
        self, metric: Any, span: Any, counted: tuple[str, ...] | None = None, rooms: Any = None
    ) -> dict[str, int]:
        self.calls.append("sums_by_key")
        found: dict[str, int] = {}
        for key in self._in(metric, span, counted, rooms):
            found[plain(key)] = found.get(plain(key), 0) + 1
        return found

    async def subject_counts(
        self, metric: Any, span: Any, counted: tuple[str, ...] | None = None, rooms: Any = None
    ) -> dict[str, int]:
        self.calls.append("subject_counts")
        found = self._subjects(metric, span, counted, rooms)
        return {rid: len(subjects) for rid, subjects in found.items() if subjects}

    async def subjects(
        self, metric: Any, span: Any, counted: tuple[str, ...] | None, rooms: Any, among: Any = None
    ) -> dict[str, frozenset[str]]:
        self.calls.append("subjects")
        found = self._subjects(metric, span, counted, rooms)
        return {rid: subjects & among if among is not None else subjects for rid, subjects in found.items()}

    def _subjects(
        self, metric: Any, span: Any, counted: tuple[str, ...] | None, rooms: Any
    ) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {rid: set() for rid in rooms or ()}
        for key in self._in(metric, span, counted, rooms):
            rid, author = plain(key).split(PART, 1)
            found.setdefault(rid, set()).add(author)
        return {rid: frozenset(subjects) for rid, subjects in found.items()}

    async def distinct(
        self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None, rooms: Any = None
    ) -> list[int]:
        self.calls.append("distinct")
        return [len({subject(metric, k) for k in self._in(metric, s, counted, rooms)}) for s in spans]

    async def key_lists(
        self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None, rooms: Any = None
    ) -> list[list[str]]:
        self.calls.append("key_lists")
        return [sorted({subject(metric, k) for k in self._in(metric, s, counted, rooms)}) for s in spans]

    async def presence(
        self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None, rooms: Any = None
    ) -> tuple[dict[str, int], dict[str, int]]:
        self.calls.append("presence")
        days: dict[str, int] = {}
        last: dict[str, int] = {}
        for i, s in enumerate(spans):
            for who in {subject(metric, k) for k in self._in(metric, s, counted, rooms)}:
                days[who] = days.get(who, 0) + 1
                last[who] = i
        return days, last

    async def earliest(self, metric: Any) -> datetime | None:
        found = [second for second, _ in self.events.get(metric.name, [])]
        return datetime.fromtimestamp(min(found), UTC) if found else None

    def open_edge(self, metric: Any) -> tuple[int, tuple]:
        """Nothing is open here (every event is in the past): the edge is far ahead, and changes with the stamp."""
        return 2**40, ("edge", self.version, len(self.rooms.forgotten) if self.rooms is not None else 0)

    def changed_keys(self, metric: Any, since: tuple | None) -> set[str] | None:
        return None  # not told here: a report reads its open part whole

    def stamp(self, metric: Any, open_days: bool = True) -> tuple | None:
        return (metric.name, self.version, len(self.rooms.forgotten) if self.rooms is not None else 0)

    async def follow(self, metric: Any, wait: bool = True) -> tuple | None:
        return self.stamp(metric)

    def remembered(self, key: tuple, stamp: tuple | None) -> Any:
        found = self.kept.get(key)
        return found[1] if stamp is not None and found is not None and found[0] == stamp else None

    def remember(self, key: tuple, stamp: tuple | None, value: Any) -> None:
        if stamp is not None and hasattr(value, "__len__"):
            self.kept[key] = (stamp, value)


async def csv_text(report: Any, sources: Any, q: Any) -> tuple[str, str]:
    """The CSV answer of `report` to `q`: its file name and its whole text, header included."""
    table = await report.table(sources, q)
    text = table.head()
    async for line in table.lines:
        text += line
    return table.filename, text


def seconds(text: str) -> int:
    """An ISO instant with its offset ("2024-03-30T23:30:00+00:00") as seconds since the epoch."""
    return int(datetime.fromisoformat(text).timestamp())


@dataclass(frozen=True)
class FakeMember:
    """An account as reports/sources.py's `Member` describes it."""

    id: str
    username: str | None = None
    name: str | None = None
    type: str = "user"
    active: bool = True
    created: datetime | None = None
    bot: bool = False


class FakePeople:
    """Accounts in a list; the generation changes with `change()`."""

    def __init__(self, members: Iterable[FakeMember]):
        self.members = {m.id: m for m in members}
        self.generation = 0

    def change(self, *members: FakeMember) -> None:
        self.members.update((m.id, m) for m in members)
        self.generation += 1

    async def everyone(self) -> tuple[int, dict[str, FakeMember]]:
        return self.generation, dict(self.members)

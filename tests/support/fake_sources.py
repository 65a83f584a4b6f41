"""What a report reads, faked in memory: the engine's read API counted by brute force over a list of events, and
Rocket.Chat's rooms as a dict. Imports nothing from engagement_svc: it follows the protocols of
reports/sources.py by their documented meaning, so that a misreading of them shared with the engine would show."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

FLAG = "\x1f"  # a flagged key is the plain key, FLAG and the flag's name ("GENERAL\x1fbot": GENERAL's bot messages)


def plain(key: str) -> str:
    return key.split(FLAG, 1)[0]


class FakeRooms:
    """Rooms by id. A room in `deleted` still has its type (the map was read before it went) but no document, until
    it is forgotten."""

    def __init__(self, documents: Iterable[dict], deleted: Iterable[str] = ()):
        self.documents_by_id = {d["_id"]: d for d in documents}
        self.deleted = set(deleted)
        self.forgotten: list[str] = []
        self.reads: list[list[str]] = []  # the ids of each `documents` call

    def kind(self, key: str) -> str | None:
        rid, _, flag = key.partition(FLAG)
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


class FakeCounts:
    """Per metric name, events (second since the epoch, key), each counting 1. A key's class is its room's type for
    a metric of rooms, else "user"; a flagged key's class carries the flag. Answers are remembered in a dict under
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
        _, _, flag = key.partition(FLAG)
        return "user" + (FLAG + flag if flag else "")

    def _in(self, metric: Any, span: Any, counted: Sequence[str] | None) -> list[str]:
        """The keys of the events in the span, once per event, of a class that counts."""
        return [
            key
            for second, key in self.events.get(metric.name, [])
            if span.lo_s <= second < span.hi_s
            and (self._class(metric, key) in counted if counted is not None else self._class(metric, key) is not None)
        ]

    async def sums(self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None) -> list[int]:
        self.calls.append("sums")
        return [len(self._in(metric, s, counted)) for s in spans]

    async def sums_by_class(self, metric: Any, spans: Sequence[Any]) -> list[dict[str, int]]:
        self.calls.append("sums_by_class")
        out = []
        for s in spans:
            found: dict[str, int] = {}
            for key in self._in(metric, s, None):
                kind = self._class(metric, key)
                assert kind is not None
                found[kind] = found.get(kind, 0) + 1
            out.append(found)
        return out

    async def sums_by_key(self, metric: Any, span: Any, counted: tuple[str, ...] | None = None) -> dict[str, int]:
        self.calls.append("sums_by_key")
        found: dict[str, int] = {}
        for key in self._in(metric, span, counted):
            found[plain(key)] = found.get(plain(key), 0) + 1
        return found

    async def distinct(self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None) -> list[int]:
        self.calls.append("distinct")
        return [len({plain(k) for k in self._in(metric, s, counted)}) for s in spans]

    async def key_lists(
        self, metric: Any, spans: Sequence[Any], counted: tuple[str, ...] | None = None
    ) -> list[list[str]]:
        self.calls.append("key_lists")
        return [sorted({plain(k) for k in self._in(metric, s, counted)}) for s in spans]

    def stamp(self, metric: Any) -> tuple | None:
        return (metric.name, self.version, len(self.rooms.forgotten) if self.rooms is not None else 0)

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

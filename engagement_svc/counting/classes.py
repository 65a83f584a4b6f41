"""What a kept key stands for (its class): a room's type, one class for every user, or a compound key's second
part (a session's client). Reads sum and count keys by class; a class that is None counts nowhere."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engagement_svc.rocketchat.rooms import FLAG, PART


class Classes(Protocol):
    """What a key stands for, e.g. the room-type map: `kind(key)` is its class (None: it counts nowhere), `knows`
    whether it has been looked up (`ensure` looks keys up), and `generation` changes whenever a known key changes
    class."""

    generation: int

    def knows(self, key: str) -> bool: ...

    def kind(self, key: str) -> str | None: ...

    async def ensure(self, keys: Iterable[str]) -> None: ...


class EveryKey:
    """Keys that all stand for the same thing (user ids, say): one class, nothing to look up."""

    generation = 0

    def __init__(self, kind: str):
        self._kind = kind

    def knows(self, key: str) -> bool:
        return True

    def kind(self, key: str) -> str | None:
        """The one class; for a flagged key (a bot user), the class plus its flag ("user" FLAG "bot")."""
        if FLAG in key:
            return self._kind + FLAG + key.split(FLAG, 1)[1]
        return self._kind

    async def ensure(self, keys: Iterable[str]) -> None:
        return None


class SecondParts:
    """Compound keys whose class is their second part (a user's sessions through a client: the client)."""

    generation = 0

    def knows(self, key: str) -> bool:
        return True

    def kind(self, key: str) -> str | None:
        head, _, flag = key.partition(FLAG)
        part = head.split(PART, 1)[1] if PART in head else None
        if part is None:
            return None
        return part + FLAG + flag if flag else part

    async def ensure(self, keys: Iterable[str]) -> None:
        return None

"""The one cache type of the service: a map that forgets, with a stated bound and measured hit rates.

Every remembered thing (sums of spans, key sets, derived answers, per-slot indexes) lives in one of these, owned by
the object that fills it, so that memory has a bound one can read in one place and `/metrics` shows how often each
cache answers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """Least recently used out first, once the cache holds more than `max_entries` entries or more than
    `max_weight` in all (each entry weighs what `put` is told: about its bytes, say), and an entry older than
    `max_age_s` is not answered. An entry put with a stamp is found only by a `get` with an equal stamp: what it
    was derived from changed, so it is a miss. One entry heavier than `max_item_weight` is not kept."""

    def __init__(
        self,
        name: str,
        max_entries: int,
        max_weight: int | None = None,
        max_age_s: float | None = None,
        max_item_weight: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.max_entries, self.max_weight, self.max_age_s = max_entries, max_weight, max_age_s
        self.max_item_weight = max_weight if max_item_weight is None else max_item_weight
        self._clock = clock
        self._entries: OrderedDict[K, tuple[Hashable, V, int, float]] = OrderedDict()  # stamp, value, weight, made
        self.weight = 0
        self.hits = self.misses = self.evictions = 0

    def get(self, key: K, stamp: Hashable = None) -> V | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        if found[0] != stamp or (self.max_age_s is not None and self._clock() - found[3] > self.max_age_s):
            self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[1]

    def put(self, key: K, value: V, stamp: Hashable = None, weight: int = 1) -> bool:
        """Keep `value` under `key` (replacing what was there); False when it is too heavy to keep."""
        if key in self._entries:
            self._drop(key)
        if self.max_item_weight is not None and weight > self.max_item_weight:
            return False
        while self._entries and (
            len(self._entries) >= self.max_entries
            or (self.max_weight is not None and self.weight + weight > self.max_weight)
        ):
            self._drop(next(iter(self._entries)))
            self.evictions += 1
        self._entries[key] = (stamp, value, weight, self._clock())
        self.weight += weight
        return True

    def _drop(self, key: K) -> None:
        self.weight -= self._entries.pop(key)[2]

    def clear(self) -> None:
        self._entries.clear()
        self.weight = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "entries": len(self._entries),
            "weight": self.weight,
        }

"""Remembered answers: what a report derived from counts (a sorted channel list, a month of active users' JSON),
kept while the counts it was made from stay the same (see `Engine.stamp`)."""

from __future__ import annotations

from collections.abc import Hashable

from engagement_svc.bounded_cache import BoundedCache

ANSWERS = 64  # remembered derived answers at most (each at most one row per room)
ANSWER_BYTES = 64 * 2**20  # and about this much memory for them in all
ITEM_BYTES = 100  # about what one row of an answer holds, when it does not say
# What an answer depends on (see `Engine.stamp`): equal stamps, equal counts.
Stamp = tuple[Hashable, ...]


def size_of(value: object) -> int:
    """About the memory an answer holds: a JSON text's length; its own `nbytes` (compact rows); a collection's
    items' own `nbytes` (a day of active users: 8 bytes per id), else ITEM_BYTES an item (a row)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(own := getattr(value, "nbytes", None), int):
        return own
    if isinstance(value, list | tuple):
        return sum(n if isinstance(n := getattr(item, "nbytes", None), int) else ITEM_BYTES for item in value)
    return ITEM_BYTES * len(value)  # type: ignore[arg-type]


class RememberedAnswers:
    """At most ANSWERS answers and about ANSWER_BYTES in all, least recently used out first; one answer of more
    than a quarter of that (a year of active users' lists: tens of MB of JSON) is not kept, nor one without a
    length (pieces written as they are made: they can be read once)."""

    def __init__(self) -> None:
        self.cache: BoundedCache[Hashable, object] = BoundedCache(
            "answers", ANSWERS, ANSWER_BYTES, max_item_weight=ANSWER_BYTES // 4
        )

    def get(self, key: Hashable, stamp: Stamp | None) -> object | None:
        """What `put` kept under this key, if it was kept at this stamp; else None."""
        return None if stamp is None else self.cache.get(key, stamp)

    def put(self, key: Hashable, stamp: Stamp | None, value: object) -> None:
        if stamp is not None and hasattr(value, "__len__"):
            self.cache.put(key, value, stamp, size_of(value))

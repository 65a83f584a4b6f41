"""Per-key answers combined and weighed: pure functions the reader applies to what the days give."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from engagement_svc.counting.catalog import FLAG, unflagged

# About the bytes one remembered thing holds: a sum; and per key of a per-key sum, a key set, a series' entry.
SUM_BYTES, PER_KEY_BYTES, PER_SET_KEY_BYTES, PER_SERIES_ENTRY_BYTES, ENTRY_BYTES = 150, 80, 70, 50, 100


def merged(parts: list[dict[str, int]]) -> dict[str, int]:
    """Per-key sums added together, flagged keys under their plain key."""
    if len(parts) == 1 and not any(FLAG in k for k in parts[0]):
        return parts[0]
    out: dict[str, int] = {}
    for part in parts:
        for key, n in part.items():
            plain = unflagged(key) if FLAG in key else key
            out[plain] = out.get(plain, 0) + n
    return out


def weight(value: object) -> int:
    """About the memory a remembered answer holds."""
    if isinstance(value, int):
        return SUM_BYTES
    if isinstance(value, dict):
        return ENTRY_BYTES + PER_KEY_BYTES * len(value)
    if isinstance(value, frozenset):
        return ENTRY_BYTES + PER_SET_KEY_BYTES * len(value)
    assert isinstance(value, list)
    return ENTRY_BYTES + PER_SERIES_ENTRY_BYTES * len(value)


def presence_of(lists: Sequence[Iterable[str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Per key of the lists, in how many it is and the index of the last (the counting is C's: a Counter's
    update and a dict's)."""
    counts: Counter[str] = Counter()
    last: dict[str, int] = {}
    for i, keys in enumerate(lists):
        counts.update(keys)
        last.update(dict.fromkeys(keys, i))
    return dict(counts), last

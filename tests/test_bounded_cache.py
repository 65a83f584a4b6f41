"""The one cache type: its bounds (entries, weight, age, one heavy item), its stamps and its measured hit rates."""

from __future__ import annotations

from engagement_svc.bounded_cache import BoundedCache


def test_least_recently_used_goes_first_once_over_the_entries():
    cache: BoundedCache[str, int] = BoundedCache("t", max_entries=3)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value)
    assert cache.get("a") == 1  # used: now the newest
    cache.put("d", 4)
    assert cache.get("b") is None and [cache.get(k) for k in "acd"] == [1, 3, 4]
    assert len(cache) == 3
    assert cache.stats() == {"hits": 4, "misses": 1, "evictions": 1, "entries": 3, "weight": 3}


def test_the_weight_bound_holds_and_a_too_heavy_item_is_refused():
    cache: BoundedCache[str, str] = BoundedCache("t", max_entries=100, max_weight=10, max_item_weight=6)
    assert cache.put("a", "aaaa", weight=4) and cache.put("b", "bbbb", weight=4)
    assert cache.put("c", "cc", weight=2) and cache.weight == 10
    assert cache.put("d", "ddd", weight=3)  # the oldest goes until it fits
    assert cache.get("a") is None and cache.weight == 9
    assert not cache.put("e", "e" * 7, weight=7) and cache.get("e") is None
    assert cache.weight == 9
    replaced = cache.put("b", "b", weight=1)  # a replaced entry's weight is given back
    assert replaced and cache.weight == 6
    heavy: BoundedCache[str, str] = BoundedCache("t", max_entries=100, max_weight=10)
    assert not heavy.put("x", "x" * 11, weight=11) and heavy.weight == 0  # heavier than the whole bound


def test_a_stamp_that_changed_is_a_miss_and_the_entry_goes():
    cache: BoundedCache[str, int] = BoundedCache("t", max_entries=10, max_weight=100)
    cache.put("k", 1, stamp=(1, 2), weight=5)
    assert cache.get("k", (1, 2)) == 1
    assert cache.get("k", (1, 3)) is None
    assert len(cache) == 0 and cache.weight == 0
    assert cache.get("k", (1, 2)) is None  # dropped, not kept for the old stamp
    cache.put("n", 0)
    assert cache.get("n") == 0  # a falsy value is a hit


def test_an_entry_older_than_its_age_is_not_answered():
    now = [100.0]
    cache: BoundedCache[str, int] = BoundedCache("t", max_entries=10, max_age_s=5, clock=lambda: now[0])
    cache.put("k", 1)
    now[0] = 105.0
    assert cache.get("k") == 1
    now[0] = 105.5
    assert cache.get("k") is None and len(cache) == 0
    cache.put("j", 2)
    cache.clear()
    assert len(cache) == 0 and cache.weight == 0 and cache.get("j") is None

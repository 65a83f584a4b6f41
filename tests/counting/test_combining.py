"""Per-key answers combined: flagged keys under their plain key, presence counted across lists, weights."""

from __future__ import annotations

from engagement_svc.counting.combining import ENTRY_BYTES, PER_KEY_BYTES, SUM_BYTES, merged, presence_of, weight

FLAG = "\x1f"


def test_merged_adds_flagged_and_plain_counts_of_a_key() -> None:
    alone = {"R1": 2, "R2": 1}
    assert merged([alone]) is alone  # nothing to add: the same dict
    assert merged([{"R1": 2, "R1" + FLAG + "bot": 3}, {"R2": 1, "R1": 1}]) == {"R1": 6, "R2": 1}


def test_presence_counts_lists_and_names_the_last() -> None:
    counts, last = presence_of([["ada", "bob"], [], ["ada"], ["eve", "ada"]])
    assert counts == {"ada": 3, "bob": 1, "eve": 1}
    assert last == {"ada": 3, "bob": 0, "eve": 3}


def test_weight_grows_with_what_is_held() -> None:
    assert weight(7) == SUM_BYTES
    assert weight({"a": 1, "b": 2}) == ENTRY_BYTES + 2 * PER_KEY_BYTES
    assert weight(frozenset("abc")) > weight(frozenset("a")) > ENTRY_BYTES
    assert weight([1, None, 3]) > weight([]) == ENTRY_BYTES

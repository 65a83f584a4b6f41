"""Remembered answers: kept under a stamp, bounded in count and bytes, never an answer read once."""

from __future__ import annotations

from engagement_svc.counting.remembered import ANSWER_BYTES, ANSWERS, ITEM_BYTES, RememberedAnswers, size_of


class _Compact:
    nbytes = 1234

    def __len__(self) -> int:
        return 10


def test_sizes_of_what_reports_remember():
    assert size_of("abc") == 3 and size_of(b"abcd") == 4
    assert size_of(_Compact()) == 1234
    assert size_of([_Compact(), "row"]) == 1234 + ITEM_BYTES
    assert size_of({"a": 1, "b": 2}) == 2 * ITEM_BYTES


def test_an_answer_is_found_only_at_its_stamp_and_never_without_one():
    answers = RememberedAnswers()
    answers.put(("k",), ("s", 1), "body")
    assert answers.get(("k",), ("s", 1)) == "body"
    assert answers.get(("k",), ("s", 2)) is None and answers.get(("k",), ("s", 1)) is None  # changed: dropped
    answers.put(("k",), None, "body")
    assert answers.get(("k",), None) is None
    answers.put(("pieces",), ("s",), iter(["a", "b"]))  # pieces written as made can be read once: not kept
    assert answers.get(("pieces",), ("s",)) is None


def test_answers_are_bounded_in_number_and_bytes():
    answers = RememberedAnswers()
    stamp = ("s",)
    for i in range(ANSWERS + 5):
        answers.put(("n", i), stamp, "x")
    assert len(answers.cache) == ANSWERS and answers.get(("n", 0), stamp) is None
    answers.put(("huge",), stamp, "y" * (ANSWER_BYTES // 4 + 1))
    assert answers.get(("huge",), stamp) is None
    assert answers.cache.weight <= ANSWER_BYTES

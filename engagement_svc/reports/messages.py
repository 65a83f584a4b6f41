"""The messages tab's answers, from counts to the exact JSON of each endpoint. No database code here."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from engagement_svc.days import iso_seconds


@lru_cache(maxsize=131_072)
def day_entry(midnight_s: int, messages: int) -> str:
    """One element of `days`, as JSON: the day's local midnight (seconds since the epoch) as a UTC instant, and
    its count. Cached, since a closed day's entry never changes (and zones whose midnight is the same instant
    share it): a long range is mostly a join of ready-made strings."""
    return f'{{"day":"{iso_seconds(midnight_s)}","messages":{messages}}}'


def messages_sent_json(midnights: Sequence[int], totals: Sequence[int]) -> str:
    """The endpoint's body from the local midnights and totals of the window before the range and of the range
    (oldest first, equally long): every day of the range newest first, zeros included; the period's variation
    against the window before; the last day's against the day before it."""
    n = len(totals) // 2
    previous, in_range = totals[:n], totals[n:]
    period = sum(in_range)
    yesterday = totals[-2]
    days = ",".join([day_entry(midnights[i], totals[i]) for i in range(len(totals) - 1, n - 1, -1)])
    return (
        f'{{"days":[{days}],"period":{{"count":{period},"variation":{period - sum(previous)}}},'
        f'"yesterday":{{"count":{yesterday},"variation":{totals[-1] - yesterday}}},"success":true}}'
    )

"""The messages tab's answers, from counts to the exact JSON of each endpoint. No database code here."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

from engagement_svc.days import iso_z, local_midnight


@lru_cache(maxsize=131_072)
def day_entry(ordinal: int, zone: ZoneInfo, messages: int) -> str:
    """One element of `days`, as JSON: the day's local midnight as a UTC instant, and its count. Cached, since a
    closed day's entry never changes: a long range is mostly a join of ready-made strings."""
    day = iso_z(local_midnight(date.fromordinal(ordinal), zone))
    return f'{{"day":"{day}","messages":{messages}}}'


def messages_sent_json(first: date, zone: ZoneInfo, totals: list[int]) -> str:
    """The endpoint's body from the totals of the window before the range and of the range (oldest first, equally
    long): every day of the range newest first, zeros included; the period's variation against the window before;
    the last day's against the day before it."""
    n = len(totals) // 2
    previous, in_range = totals[:n], totals[n:]
    period, last = sum(in_range), first.toordinal() + n - 1
    yesterday = totals[-2]
    days = ",".join([day_entry(last - i, zone, c) for i, c in enumerate(reversed(in_range))])
    return (
        f'{{"days":[{days}],"period":{{"count":{period},"variation":{period - sum(previous)}}},'
        f'"yesterday":{{"count":{yesterday},"variation":{totals[-1] - yesterday}}},"success":true}}'
    )

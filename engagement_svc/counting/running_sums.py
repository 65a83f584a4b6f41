"""Counted sums over every kept closed day as one running sum: any run of closed slots, whatever the zone, is a
few lookups (a year of days in a zone asked for the first time costs no pass over its days)."""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence

from engagement_svc.counting.classes import Classes
from engagement_svc.counting.kept import ClosedDay
from engagement_svc.counting.slots import SLOTS_PER_DAY, Span

Answer = int | dict[str, int] | list[str]  # one span's: a sum or distinct count, {class or key: sum}, or the keys


class RunningSums:
    """Counted sums over every kept closed day: a running sum of whole days, and each day's own running sum over
    its slots, so that any run of closed slots costs a few lookups, whatever the zone. Built in one pass over the
    days (no copy of their slots); rebuilt when a kept day or a key's class changes."""

    def __init__(
        self, version: tuple[int, ...], closed: Mapping[int, ClosedDay], classes: Classes, counted: tuple[str, ...]
    ):
        self.version = version
        self.first_day = min(closed)
        self._days: list[array[int] | None] = []
        totals, kept = array("q", [0]), array("l", [0])
        for day in range(self.first_day, max(closed) + 1):
            view = closed.get(day)
            prefix = view.counted_prefix(classes, counted) if view is not None else None
            self._days.append(prefix)
            totals.append(totals[-1] + (prefix[-1] if prefix is not None else 0))
            kept.append(kept[-1] + (prefix is not None))
        self._totals, self._kept = totals, kept

    def answer(self, spans: Sequence[Span], results: list[Answer | None], open_slot: int) -> None:
        """Fill in the sum of every span that lies in kept closed days (before `open_slot`); leave the others."""
        first_day, days, totals, kept, count = self.first_day, self._days, self._totals, self._kept, len(self._days)
        for i, (_, _, first, end) in enumerate(spans):
            if first is None or end is None or end > open_slot or end <= first:
                continue
            d0, a = divmod(first, SLOTS_PER_DAY)
            d1, b = divmod(end - 1, SLOTS_PER_DAY)
            d0, d1, b = d0 - first_day, d1 - first_day, b + 1
            if d0 < 0 or d1 >= count or kept[d1 + 1] - kept[d0] != d1 - d0 + 1:
                continue
            p0, p1 = days[d0], days[d1]
            assert p0 is not None and p1 is not None
            if d0 == d1:
                results[i] = p0[b] - p0[a]
            else:
                results[i] = (p0[SLOTS_PER_DAY] - p0[a]) + (totals[d1] - totals[d0 + 1]) + p1[b]

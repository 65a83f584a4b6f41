"""The ledger of what kept counts owe: closed days changed since they were counted, until they are counted again.

A change to a closed day (an insert, an update of a field a rule reads, a sweep finding a different raw count)
makes the day *stale* (the state database must drop it, so that no replica reads it back unchanged) and *dirty*
(kept in memory: to be counted again). A dirty day moves to *recounting* while its recount runs. A metric that
keeps history (sessions past Rocket.Chat's TTL) is never dropped from the state database: its recount merges with
what was kept. What is owed is saved with each change stream's position, so that a crash cannot lose it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engagement_svc.counting.catalog import Metric


class Ledger:
    def __init__(self, metrics: Mapping[str, Metric]):
        self._changes: dict[tuple[str, int], int] = {}  # (metric, closed day) -> changes seen
        self._dirty: dict[str, set[int]] = {m: set() for m in metrics}
        self._stale: dict[str, set[int]] = {m: set() for m in metrics}
        self._recounting: dict[str, set[int]] = {m: set() for m in metrics}
        self._history_lost: set[str] = set()  # collections whose stream lost its history: every kept day owed

    def changes(self, metric: Metric, day: int) -> int:
        """How many changes of this closed day were seen (a count that saw another number may predate one)."""
        return self._changes.get((metric.name, day), 0)

    def changed(self, metric: Metric, day: int, kept: bool) -> None:
        """A closed day changed; `kept`: its counts are in memory (else only the state database may hold it)."""
        self._changes[(metric.name, day)] = self.changes(metric, day) + 1
        if metric.keeps_history:
            self._dirty[metric.name].add(day)
            return
        self._stale[metric.name].add(day)
        if kept:
            self._dirty[metric.name].add(day)

    def owe(self, metric: Metric, days: Iterable[int]) -> None:
        """These closed days are counted again; the state database drops them first, unless the metric keeps
        history."""
        days = set(days)
        self._dirty[metric.name] |= days
        if not metric.keeps_history:
            self._stale[metric.name] |= days

    def pending(self, metric: Metric) -> set[int]:
        """The closed days whose changes are not in the state database yet (to drop, to recount, or being
        recounted): what a stream's saved position still owes."""
        name = metric.name
        return self._stale[name] | self._dirty[name] | self._recounting[name]

    def stale(self, metric: Metric) -> set[int]:
        return set(self._stale[metric.name])

    def forgotten(self, metric: Metric, days: set[int]) -> None:
        """The state database has dropped these days."""
        self._stale[metric.name] -= days

    def start_recount(self, metric: Metric) -> set[int]:
        """The dirty days, now being recounted (they stay owed until `recounted`)."""
        days, self._dirty[metric.name] = self._dirty[metric.name], set()
        self._recounting[metric.name] |= days
        return days

    def recounted(self, metric: Metric, days: set[int], done: bool) -> None:
        """The recount of these days ended; not `done` (it failed): they are dirty again."""
        if not done:
            self._dirty[metric.name] |= days
        self._recounting[metric.name] -= days

    def lose_history(self, collection: str) -> None:
        self._history_lost.add(collection)

    def history_lost(self, collection: str) -> bool:
        return collection in self._history_lost

    def collections_lost(self) -> list[str]:
        return sorted(self._history_lost)

    def history_restored(self, collection: str) -> None:
        """Every kept day of the collection's metrics is owed now."""
        self._history_lost.discard(collection)

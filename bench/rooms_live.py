"""What one new message costs channels/list at many rooms (issue 25), in-process (asserts nothing): the report over
counts held in memory (the engine's reads answered from dicts, so that the figure is the report's own work: the
engine's open-day read of the same keys is apart), 7 days to now in UTC.

- before: the whole list made again and sorted (what every request after a message did);
- after: the kept list's open part read again for the rooms counted since (`changed_keys`) and the changed room
  moved (`LiveRows.update`), then a page.
CPU time is `time.process_time` around each, the median of `--runs`.

    python -m bench.rooms_live --rooms 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from engagement_svc.reports import channels_list
from engagement_svc.reports.sources import Sources
from engagement_svc.settings import Settings

SETTINGS = Settings(mongo_url="mongodb://127.0.0.1:1", database="rocketchat")


class MemoryCounts:
    """Counts per room and author, split at the open days' edge: closed sums fixed, open sums that grow."""

    def __init__(self, rooms: int, open_s: int, seed: int = 7):
        rng = random.Random(seed)
        self.rids = [f"R{i:09d}" for i in range(rooms)]
        self.open_s = open_s
        self.closed = {r: rng.randrange(1, 200) for r in self.rids}
        self.previous = {r: rng.randrange(0, 200) for r in self.rids}
        self.posts = {f"{r}\x1eu{rng.randrange(50)}": 1 for r in self.rids for _ in range(3)}
        self.open = {r: rng.randrange(1, 5) for r in rng.sample(self.rids, rooms // 40)}  # today's active rooms
        self.open_posts = {f"{r}\x1eu{rng.randrange(50)}": 1 for r in self.open}
        self.posters_by_room: dict[str, set[str]] = {}
        for key in self.open_posts:
            self.posters_by_room.setdefault(key.split("\x1e")[0], set()).add(key)
        self.closed_posters: dict[str, list[str]] = {}  # a room's keys in the kept days: the engine bisects to them
        for key in self.posts:
            self.closed_posters.setdefault(key.split("\x1e")[0], []).append(key)
        self.version = 0
        self.touched: dict[str, int] = {}  # key -> the version it last changed at (the engine's changed_keys)
        self.kept: dict = {}

    def message(self, rid: str, author: str) -> None:
        key = f"{rid}\x1e{author}"
        self.open = {**self.open, rid: self.open.get(rid, 0) + 1}
        self.open_posts = {**self.open_posts, key: 1}
        self.posters_by_room.setdefault(rid, set()).add(key)
        self.version += 1
        self.touched[rid] = self.touched[key] = self.version

    async def sums_by_key(self, metric: Any, span: Any, counted: Any = None, rooms: Any = None) -> dict[str, int]:
        posts = metric.name == "posts"
        if span.lo_s >= self.open_s:
            if rooms is not None:  # a scoped read: each room's keys looked up, as the engine's open days do
                if posts:
                    return {k: 1 for r in rooms for k in self.posters_by_room.get(r, ())}
                return {r: self.open[r] for r in rooms if r in self.open}
            return self.open_posts if posts else self.open
        if span.hi_s <= self.open_s - 7 * 86_400:
            return {} if posts else self.previous
        if rooms is not None:
            if posts:
                return {k: 1 for r in rooms for k in self.closed_posters.get(r, ())}
            return {r: self.closed[r] for r in rooms if r in self.closed}
        return self.posts if posts else self.closed

    async def subject_counts(self, metric: Any, span: Any, counted: Any = None, rooms: Any = None) -> dict[str, int]:
        """The closed part's posters per room (the engine's one aggregation per range, remembered)."""
        return {rid: len(keys) for rid, keys in self.closed_posters.items() if rooms is None or rid in rooms}

    async def subjects(self, metric: Any, span: Any, counted: Any, rooms: Any, among: Any = None) -> dict[str, Any]:
        """Of these rooms, the closed part's authors (of `among`): the engine's aggregation of those pairs."""
        found = {rid: frozenset(k.split("\x1e", 1)[1] for k in self.closed_posters.get(rid, ())) for rid in rooms}
        return {rid: authors & among if among is not None else authors for rid, authors in found.items()}

    def changed_keys(self, metric: Any, since: Any) -> set[str] | None:
        return {k for k, v in self.touched.items() if v > since[1]} if since is not None else None

    async def presence(self, metric: Any, spans: Any, counted: Any = None, rooms: Any = None):
        return {}, dict.fromkeys(self.rids, len(spans) - 1)

    async def key_lists(self, metric: Any, spans: Any, counted: Any = None, rooms: Any = None):
        return [sorted(self.open if rooms is None else (r for r in rooms if r in self.open))]

    async def earliest(self, metric: Any) -> datetime | None:
        return None

    def open_edge(self, metric: Any) -> tuple[int, Any]:
        return self.open_s, ("edge",)

    def stamp(self, metric: Any, open_days: bool = True) -> Any:
        return (metric.name, self.version)

    async def follow(self, metric: Any, wait: bool = True) -> Any:
        return self.stamp(metric)

    def remembered(self, key: Any, stamp: Any) -> Any:
        found = self.kept.get(key)
        return found[1] if found is not None and found[0] == stamp else None

    def remember(self, key: Any, stamp: Any, value: Any) -> None:
        self.kept[key] = (stamp, value)


class MemoryRooms:
    def __init__(self, rids: list[str]):
        self.rids = rids

    def kind(self, key: str) -> str | None:
        return "c"

    def version(self) -> int:
        return 0


def cpu_ms(work) -> float:
    began = time.process_time()
    asyncio.run(work())
    return (time.process_time() - began) * 1000


def measure(rooms: int, runs: int) -> dict:
    """The first request's CPU, then the medians of `runs` requests after one new message, before and after (ms)."""
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0)
    counts = MemoryCounts(rooms, int(midnight.timestamp()))
    sources = Sources(counts, MemoryRooms(counts.rids))  # type: ignore[arg-type]
    start = (midnight - timedelta(days=6)).isoformat()
    q = channels_list.REPORT.params.parse({"start": start, "end": now.isoformat(), "timezone": "UTC"}, SETTINGS)
    rng = random.Random(3)

    async def before() -> None:
        await channels_list._counted_rows(sources, q, None)

    async def after() -> None:
        found = await channels_list.channel_rows(sources, q)
        found[0:50]

    build = cpu_ms(after)
    old, new = [], []
    for _ in range(runs):
        counts.message(rng.choice(counts.rids), f"u{rng.randrange(60)}")
        old.append(cpu_ms(before))
        new.append(cpu_ms(after))
    return {
        "rooms": rooms,
        "active_today": len(counts.open),
        "runs": runs,
        "first_ms": round(build, 1),
        "before_ms": round(median(old), 2),
        "after_ms": round(median(new), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    f = measure(args.rooms, args.runs)
    print(f"channels/list at {f['rooms']:,} rooms ({f['active_today']:,} with messages today), 7 days, -messages:")
    print(f"  first request (the list made and kept): {f['first_ms']:,.1f} ms CPU")
    print(f"  the request after one new message, before (made again, sorted): {f['before_ms']:,.2f} ms CPU (median)")
    print(f"  the request after one new message, after (the room moved):      {f['after_ms']:,.2f} ms CPU (median)")


if __name__ == "__main__":
    main()

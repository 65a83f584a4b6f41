"""Open days kept exact from a change stream on `rocketchat_message`, without recounting them per request.

Each tracked zone's open days are counted once per room by a snapshot read at a known cluster time T; every
insert the stream reports after T then adds one to its room and day. An insert the watcher processed while the
count ran is replayed from a short log of recent inserts, so nothing is counted twice or lost. Deletions and
changes of `t` or `_hidden` (which Rocket.Chat makes when it deletes or hides a message) carry no day, so they
make the open days be counted again, at most once a second, and tell the engine to check closed days.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pymongo
from bson import Timestamp
from pymongo.errors import OperationFailure, PyMongoError

from engagement_svc.counting.rules import RoomCounts, day_bounds, room_days_from, room_days_pipeline
from engagement_svc.days import local_date

log = logging.getLogger("engagement_svc.counting.watcher")

RECENT_SECONDS = 600  # how long processed inserts stay replayable
RECENT_MAX = 500_000
RESNAPSHOT_SECONDS = 1.0  # at most this often are open days counted again after deletions
TRACK_TIMEOUT_S = 120  # a snapshot read must finish well inside MongoDB's snapshot history (300 s by default)

EVENTS = [
    {
        "$match": {
            "$or": [
                {
                    "operationType": {
                        "$in": ["insert", "delete", "replace", "drop", "rename", "dropDatabase", "invalidate"]
                    }
                },
                {
                    "operationType": "update",
                    "$or": [
                        {"updateDescription.updatedFields.t": {"$exists": True}},
                        {"updateDescription.updatedFields._hidden": {"$exists": True}},
                        {"updateDescription.updatedFields.ts": {"$exists": True}},
                        {"updateDescription.updatedFields.rid": {"$exists": True}},
                        {"updateDescription.removedFields": {"$in": ["t", "_hidden", "ts", "rid"]}},
                    ],
                },
            ]
        }
    },
    {
        "$project": {
            "operationType": 1,
            "clusterTime": 1,
            "documentKey": 1,
            "fullDocument.ts": 1,
            "fullDocument.rid": 1,
            "fullDocument.t": 1,
            "fullDocument._hidden": 1,
        }
    },
]


_SERIALS = itertools.count(1)


def counts_as_sent(doc: dict) -> bool:
    return "t" not in doc and doc.get("_hidden") is not True


@dataclass
class OpenDays:
    """A zone's open days: messages sent per room, as of cluster time `since` plus every insert after it."""

    zone: ZoneInfo
    since: Timestamp
    days: dict[date, RoomCounts] = field(default_factory=dict)
    version: int = 0  # bumped by every change, so totals derived from the counts know when to be recomputed
    serial: int = field(default_factory=lambda: next(_SERIALS))  # tells trackers apart (an id() can be reused)

    def add(self, ts: datetime, rid: str) -> None:
        rooms = self.days.get(local_date(ts, self.zone))
        if rooms is not None:
            rooms[rid] = rooms.get(rid, 0) + 1
            self.version += 1


async def operation_time(db) -> Timestamp:
    """The server's latest operation time. A replica set member sends it with every reply, but not always just
    after it restarts (seen under auth): then ask again, briefly."""
    for _ in range(20):
        reply = await db.command("ping")
        if "operationTime" in reply:
            return reply["operationTime"]
        await asyncio.sleep(0.1)
    raise OperationFailure("the server reports no operationTime (change streams need a replica set)")


class Watcher:
    """Runs the change stream; `on_change(ts)` and `on_delete()` tell the engine about closed days."""

    def __init__(self, db, on_change: Callable[[datetime], None], on_delete: Callable[[], None]):
        self.db = db
        self.on_change = on_change
        self.on_delete = on_delete
        self.healthy = False
        self.started_at: Timestamp | None = None
        self.trackers: dict[str, OpenDays] = {}
        self.events = 0
        self._recent: deque[tuple[Timestamp, str, datetime, float]] = deque()
        self._dropped_up_to: Timestamp | None = None
        self._resume_token = None
        self._resnapshot = False
        self._last_resnapshot = 0.0
        self.stopping = False  # PyMongo's change stream resumes after a cancelled getMore; this ends the loop

    # -- the stream ---------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Forever: watch, and after any error resume from the last event seen (or start afresh) with back-off."""
        backoff = 0.5
        while not self.stopping:
            try:
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "change stream interrupted (%s); open days are counted directly until it is back",
                    type(exc).__name__,
                )
            self.healthy = False
            self.trackers.clear()
            if self.stopping:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        self.healthy = False
        self.trackers.clear()

    async def _watch(self) -> None:
        options: dict = {"max_await_time_ms": 250}
        if self._resume_token is not None:
            options["resume_after"] = self._resume_token
        else:
            if self.started_at is not None:
                self.on_delete()  # a restart without history: what happened meanwhile is unknown, check closed days
            self.started_at = await operation_time(self.db)
            options["start_at_operation_time"] = self.started_at
        try:
            stream = await self.db.rocketchat_message.watch(EVENTS, **options)
        except PyMongoError as exc:
            if self._resume_token is not None and getattr(exc, "code", None) in (260, 280, 286):
                log.warning("change stream history lost; starting afresh")
                self._resume_token = None
                return
            raise
        async with stream:
            self.healthy = True
            last_flush = time.monotonic()
            while not self.stopping:
                event = await stream.try_next()
                if event is not None:
                    if not await self._apply(event):
                        self._resume_token = None
                        return
                    self._resume_token = stream.resume_token
                    self.events += 1
                if event is None or time.monotonic() - last_flush > 0.5:
                    await self._flush()
                    last_flush = time.monotonic()

    async def _apply(self, event: dict) -> bool:
        """Apply one event; False when the collection itself went away (the stream must start afresh)."""
        kind, ct = event["operationType"], event["clusterTime"]
        if kind == "insert":
            doc = event["fullDocument"]
            ts, rid = doc.get("ts"), doc.get("rid")
            if not isinstance(ts, datetime) or not isinstance(rid, str):
                return True
            counted = counts_as_sent(doc)
            self._remember(ct, rid, ts, counted)
            if counted:
                for tracker in self.trackers.values():
                    if ct > tracker.since:
                        tracker.add(ts, rid)
            self.on_change(ts)
        elif kind in ("delete", "update", "replace"):
            self._resnapshot = True
            if kind == "delete":
                self.on_delete()
            else:  # `t` or `_hidden` changed: find the message's day (an update event does not carry it)
                doc = event.get("fullDocument") or await self.db.rocketchat_message.find_one(
                    {"_id": event["documentKey"]["_id"]}, {"ts": 1}
                )
                ts = (doc or {}).get("ts")
                if isinstance(ts, datetime):
                    self.on_change(ts)
                else:
                    self.on_delete()  # where the message was is unknown: check every closed day
        else:  # drop, rename, dropDatabase, invalidate
            self.trackers.clear()
            self.on_delete()
            return False
        return True

    def _remember(self, ct: Timestamp, rid: str, ts: datetime, counted: bool) -> None:
        now = time.monotonic()
        if counted:
            self._recent.append((ct, rid, ts, now))
        while self._recent and (len(self._recent) > RECENT_MAX or now - self._recent[0][3] > RECENT_SECONDS):
            self._dropped_up_to = self._recent.popleft()[0]

    async def _flush(self) -> None:
        if self._resnapshot and time.monotonic() - self._last_resnapshot >= RESNAPSHOT_SECONDS:
            self._resnapshot = False
            self._last_resnapshot = time.monotonic()
            for tracker in list(self.trackers.values()):
                await self.track(tracker.zone, sorted(tracker.days))

    # -- open days ----------------------------------------------------------------------------------------------
    def open_days(self, zone: ZoneInfo, days: list[date]) -> OpenDays | None:
        """The zone's tracker if it keeps all of these days, else None."""
        tracker = self.trackers.get(zone.key)
        if not self.healthy or tracker is None or any(d not in tracker.days for d in days):
            return None
        return tracker

    async def track(self, zone: ZoneInfo, days: list[date]) -> None:
        """Count these days of the zone at a snapshot, replay what the stream delivered since, and keep them."""
        if not self.healthy:
            return
        with pymongo.timeout(TRACK_TIMEOUT_S):
            await self._track(zone, days)

    async def _track(self, zone: ZoneInfo, days: list[date]) -> None:
        for _ in range(3):
            since = await operation_time(self.db)
            reply = await self.db.command(
                {
                    "aggregate": "rocketchat_message",
                    "pipeline": room_days_pipeline(day_bounds(days, zone), zone),
                    "cursor": {},
                    "allowDiskUse": True,
                    "readConcern": {"level": "snapshot", "atClusterTime": since},
                }
            )
            batch = list(reply["cursor"]["firstBatch"])
            cursor_id = reply["cursor"]["id"]
            while cursor_id:
                more = await self.db.command({"getMore": cursor_id, "collection": "rocketchat_message"})
                batch += more["cursor"]["nextBatch"]
                cursor_id = more["cursor"]["id"]
            # From here to the end nothing awaits: the replay and the swap see exactly what the stream applied.
            if not self.healthy:
                return
            if self._dropped_up_to is not None and self._dropped_up_to > since:
                continue  # the log no longer reaches back to the snapshot; take a newer one
            found = room_days_from(batch)
            tracker = OpenDays(zone, since, {d: dict(found[d].rooms) if d in found else {} for d in days})
            for ct, rid, ts, _ in self._recent:
                if ct > since:
                    tracker.add(ts, rid)
            self.trackers[zone.key] = tracker
            return

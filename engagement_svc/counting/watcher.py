"""One change stream per source collection, handing each relevant event to a listener.

The stream carries inserts (with the fields the collection's metrics read), updates and replaces that touch
one of those fields, deletions, and the events that end a stream (drop, rename, invalidate). After any error it
resumes from the last event seen, or starts afresh with back-off; a fresh start after a gap tells the listener
that what happened meanwhile is unknown. Inserts stay replayable for a while (`recent`), so that a count taken
at a snapshot can be continued exactly from the stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from bson import Timestamp
from pymongo.errors import OperationFailure, PyMongoError

log = logging.getLogger("engagement_svc.watcher")

RECENT_SECONDS = 600  # how long processed inserts stay replayable
RECENT_MAX = 500_000  # and at most this many (a bound on memory: about 300 bytes each)
HISTORY_LOST = (260, 280, 286)  # ChangeStreamHistoryLost and its relatives: the resume token is too old


class Listener(Protocol):
    def inserted(self, doc: dict, cluster_time: Timestamp) -> None: ...

    async def changed(self, doc_id: Any) -> None: ...  # an update or replace touched a watched field

    def deleted(self) -> None: ...

    def reset(self) -> None: ...  # the stream (re)started without history, or the collection went away

    async def flush(self) -> None: ...  # called at least twice a second while the stream runs


def event_filter(fields: Iterable[str]) -> list[dict]:
    watched = sorted(set(fields))
    return [
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
                            *({f"updateDescription.updatedFields.{f}": {"$exists": True}} for f in watched),
                            {"updateDescription.removedFields": {"$in": watched}},
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
                **{f"fullDocument.{f}": 1 for f in watched},
            }
        },
    ]


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
    def __init__(self, db, collection: str, fields: Iterable[str], listener: Listener):
        self.db = db
        self.collection = collection
        self.pipeline = event_filter(fields)
        self.listener = listener
        self.healthy = False
        self.events = 0
        self.recent: deque[tuple[Timestamp, dict, float]] = deque()
        self.dropped_up_to: Timestamp | None = None  # the newest insert no longer replayable
        self._resume_token = None
        self._started = False
        self.stopping = False  # PyMongo's change stream resumes after a cancelled getMore; this ends the loop

    async def run(self) -> None:
        """Forever: watch, and after any error resume from the last event seen (or start afresh) with back-off."""
        backoff = 0.5
        while not self.stopping:
            try:
                await self._watch()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it was, the stream must come back, not die silently
                log.warning(
                    "change stream on %s interrupted (%s); counting directly until it is back",
                    self.collection,
                    type(exc).__name__,
                )
            self.healthy = False
            if self.stopping:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        self.healthy = False

    async def _watch(self) -> None:
        options: dict = {"max_await_time_ms": 250}
        if self._resume_token is not None:
            options["resume_after"] = self._resume_token
        else:
            if self._started:
                self.listener.reset()  # a restart without history: what happened meanwhile is unknown
            self._started = True
            options["start_at_operation_time"] = await operation_time(self.db)
        try:
            stream = await self.db[self.collection].watch(self.pipeline, **options)
        except PyMongoError as exc:
            if self._resume_token is not None and getattr(exc, "code", None) in HISTORY_LOST:
                log.warning("change stream history on %s lost; starting afresh", self.collection)
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
                    await self.listener.flush()
                    last_flush = time.monotonic()

    async def _apply(self, event: dict) -> bool:
        """Apply one event; False when the collection itself went away (the stream must start afresh)."""
        kind = event["operationType"]
        if kind == "insert":
            doc, ct = event["fullDocument"], event["clusterTime"]
            self._remember(ct, doc)
            self.listener.inserted(doc, ct)
        elif kind in ("update", "replace"):
            await self.listener.changed(event["documentKey"]["_id"])
        elif kind == "delete":
            self.listener.deleted()
        else:  # drop, rename, dropDatabase, invalidate
            self.listener.reset()
            return False
        return True

    def _remember(self, ct: Timestamp, doc: dict) -> None:
        now = time.monotonic()
        self.recent.append((ct, doc, now))
        while self.recent and (len(self.recent) > RECENT_MAX or now - self.recent[0][2] > RECENT_SECONDS):
            self.dropped_up_to = self.recent.popleft()[0]

    def replay_after(self, since: Timestamp) -> list[dict] | None:
        """The inserts processed after cluster time `since`, or None if the log no longer reaches back to it."""
        if self.dropped_up_to is not None and self.dropped_up_to > since:
            return None
        return [doc for ct, doc, _ in self.recent if ct > since]

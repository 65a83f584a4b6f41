"""One change stream per Rocket.Chat collection, shared by everyone who needs to follow it.

A stream carries inserts (with the fields its listeners read), updates and replaces that touch one of the fields
they watch (or any update, if a listener asks for all), deletions, and the events that end a stream (drop,
rename, invalidate). After any error it resumes from the last position read (the resume token advances while
idle too), or starts afresh with back-off; a fresh start after a gap tells the listeners that what happened
meanwhile is unknown. Inserts stay replayable for a while (`replay_after`), so that a count taken at a snapshot
can be continued exactly from the stream.

A stream with a `checkpoint` saves its resume token there about every second (with whatever its listeners still
owe, see Checkpoint) and starts from the saved token after a restart, so that nothing done while no instance was
watching is missed; when the oplog no longer reaches back to it, the listeners hear `history_lost`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Protocol, cast

from bson import Timestamp
from pymongo.errors import OperationFailure, PyMongoError

from engagement_svc.mongo_errors import DatabaseProblems
from engagement_svc.mongo_types import Database, Document, Pipeline, ResumeToken
from engagement_svc.tasks import background, cancelled

log = logging.getLogger("engagement_svc.changes")

STALLED_AFTER_S = 3.0  # a stream whose reads have not come back for this long is not followed (a hung server)
RECENT_SECONDS = 600  # how long processed inserts stay replayable
RECENT_MAX = 500_000  # and at most this many (a bound on memory: a few hundred bytes each)
HISTORY_LOST = (260, 280, 286)  # ChangeStreamHistoryLost and its relatives: the resume token is too old
STREAM_END = ("drop", "rename", "dropDatabase", "invalidate")
CHECKPOINT_S = 1.0  # a stream's position is saved at most this often


class Listener(Protocol):
    def inserted(self, doc: Document, cluster_time: Timestamp) -> None: ...

    # An update or replace touched a watched field. A document's id is any BSON value (Rocket.Chat's are text).
    async def changed(self, doc_id: object) -> None: ...

    def deleted(self, doc_id: object) -> None: ...

    def reset(self) -> None: ...  # the stream (re)started without history, or the collection went away

    async def flush(self) -> None: ...  # called at least twice a second while the stream runs

    def history_lost(self) -> None: ...  # the saved position is older than the oplog: changes since are unknown


class Checkpoint(Protocol):
    """Where a stream's position is kept across restarts."""

    async def load(self) -> ResumeToken | None: ...  # the saved resume token, or None

    async def save(self, token: ResumeToken) -> None: ...  # every event up to `token` has been applied


def event_filter(fields: set[str] | None, projected: set[str]) -> Pipeline:
    """Inserts, deletions and stream ends always; updates that touch one of `fields` (any update if None)."""
    updates: Document = {"operationType": "update"}
    if fields is not None:
        watched = sorted(fields)
        updates["$or"] = [
            *({f"updateDescription.updatedFields.{f}": {"$exists": True}} for f in watched),
            {"updateDescription.removedFields": {"$in": watched}},
        ]
    always = {"operationType": {"$in": ["insert", "delete", "replace", *STREAM_END]}}
    kept = {f"fullDocument.{f}": 1 for f in sorted(projected | {"_id"})}
    # The names (not the values) of the fields an update set or removed, so each listener hears only of its own.
    names = {
        "$map": {"input": {"$objectToArray": {"$ifNull": ["$updateDescription.updatedFields", {}]}}, "in": "$$this.k"}
    }
    touched = {"$concatArrays": [names, {"$ifNull": ["$updateDescription.removedFields", []]}]}
    return [
        {"$match": {"$or": [always, updates]}},
        {"$project": {"operationType": 1, "clusterTime": 1, "documentKey": 1, **kept, "touched": touched}},
    ]


def touches(touched: list[str] | None, fields: set[str] | None) -> bool:
    """Whether an update that set or removed `touched` (None: a replace, everything) concerns a listener of
    `fields` (None: every update). Dotted paths meet when one is the other or lies inside it."""
    if touched is None or fields is None:
        return True
    return any(t == f or t.startswith(f + ".") or f.startswith(t + ".") for t in touched for f in fields)


async def operation_time(db: Database) -> Timestamp:
    """The server's latest operation time. A replica set member sends it with every reply, but not always just
    after it restarts (seen under auth): then ask again, briefly."""
    for _ in range(20):
        reply = await db.command("ping")
        if "operationTime" in reply:
            return cast(Timestamp, reply["operationTime"])  # a reply's field, typed Any: always a BSON timestamp
        await asyncio.sleep(0.1)
    raise OperationFailure("the server reports no operationTime (change streams need a replica set)")


class Watcher:
    def __init__(self, db: Database, collection: str, problems: DatabaseProblems):
        self.db = db
        self._problems = problems
        self.collection = collection
        self.listeners: list[Listener] = []
        self._listener_fields: list[set[str] | None] = []
        self._fields: set[str] | None = set()
        self._projected: set[str] = set()
        self._open = False
        self._alive_at = 0.0
        self.events = 0
        self.recent: deque[tuple[Timestamp, Document, float]] = deque()
        self.dropped_up_to: Timestamp | None = None  # the newest insert no longer replayable
        self._resume_token: ResumeToken | None = None
        self._started = False
        self.checkpoint: Checkpoint | None = None
        self._settled = asyncio.Event()  # the saved position is read, and what it missed replayed
        self._catch_up_to: Timestamp | None = None
        self._task_started = False
        self._saved_token: ResumeToken | None = None
        self._saved_at = 0.0
        self.history_losses = 0
        self.stopping = False  # PyMongo's change stream resumes after a cancelled getMore; this ends the loop

    @property
    def healthy(self) -> bool:
        """The stream is open and its last read came back within STALLED_AFTER_S (reads return at least every
        250 ms while it is idle), so what listeners hold is at most that old."""
        return self._open and time.monotonic() - self._alive_at < STALLED_AFTER_S

    @property
    def running(self) -> bool:
        """The stream is open (it may be busy handing an event to a listener)."""
        return self._open

    def listen(self, listener: Listener, fields: Iterable[str] | None, projected: Iterable[str] = ()) -> None:
        """Add a listener for updates of `fields` (None: every update) and inserts carrying `projected`."""
        self.listeners.append(listener)
        self._listener_fields.append(None if fields is None else set(fields))
        self._fields = None if fields is None or self._fields is None else self._fields | set(fields)
        self._projected |= set(projected) | set(fields or ())

    async def run(self) -> None:
        """Forever: watch, and after any error resume from the last event seen (or start afresh) with back-off."""
        backoff = 0.5
        self._task_started = True
        while not self.stopping and not cancelled():
            try:
                await self._watch()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it was, the stream must come back, not die silently
                log.warning(
                    "change stream on %s interrupted (%s, %s); counting directly until it is back",
                    self.collection,
                    self._problems.of(exc),
                    type(exc).__name__,
                )
            self._open = False
            if self.stopping:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        self._open = False

    async def _watch(self) -> None:
        first = not self._started
        if first and self._resume_token is None and self.checkpoint is not None:
            self._resume_token = self._saved_token = await self.checkpoint.load()
            if self._resume_token is not None:
                log.info("change stream on %s resumes from its saved position", self.collection)
                self._catch_up_to = await operation_time(self.db)
        if self._catch_up_to is None:
            self._settled.set()  # nothing to replay
        self._started = True
        start_at: Timestamp | None = None  # with a resume token, none: the token is where the stream resumes
        if self._resume_token is None:
            if not first:
                for listener in self.listeners:
                    listener.reset()  # a restart without history: what happened meanwhile is unknown
            start_at = await operation_time(self.db)
        try:
            pipeline = event_filter(self._fields, self._projected)
            stream = await self.db[self.collection].watch(
                pipeline, max_await_time_ms=250, resume_after=self._resume_token, start_at_operation_time=start_at
            )
        except PyMongoError as exc:
            if self._resume_token is not None and getattr(exc, "code", None) in HISTORY_LOST:
                log.warning("change stream history on %s lost (the oplog no longer has its position)", self.collection)
                self._resume_token, self._catch_up_to = None, None
                self.history_losses += 1
                for listener in self.listeners:
                    listener.history_lost()
                self._settled.set()
                return
            raise
        async with stream:
            self._open, self._alive_at = True, time.monotonic()
            last_flush = time.monotonic()
            while not self.stopping:
                event = await stream.try_next()
                self._alive_at = time.monotonic()
                if event is None or (self._catch_up_to is not None and event["clusterTime"] >= self._catch_up_to):
                    self._catch_up_to = None  # caught up with what happened before this process began
                if event is not None:
                    if not await self._apply(event):
                        self._resume_token = None
                        self._open = False
                        return
                    self.events += 1
                # After an event, its token; after an empty read, the server's position (postBatchResumeToken):
                # a quiet collection's saved position keeps up with the oplog too.
                self._resume_token = stream.resume_token or self._resume_token
                if event is None or time.monotonic() - last_flush > 0.5:
                    for listener in self.listeners:
                        await listener.flush()
                    last_flush = self._alive_at = time.monotonic()
                    await self._save_position()
                    if self._catch_up_to is None:
                        self._settled.set()

    async def settled(self, seconds: float) -> None:
        """Return once the stream has replayed what happened while no process followed it (its listeners have
        flushed it), or after `seconds` (the stream does not come back: kept counts are used as they are). At
        once for a stream that is not run."""
        if not self._task_started or self._settled.is_set():
            return
        try:
            await asyncio.wait_for(self._settled.wait(), seconds)
        except TimeoutError:
            log.warning(
                "change stream on %s has not caught up in %.0f s; kept counts used as they are",
                self.collection,
                seconds,
            )
            self._settled.set()

    async def _save_position(self) -> None:
        """Save the position (every event before it applied and flushed) about every CHECKPOINT_S."""
        token = self._resume_token
        if self.checkpoint is None or token is None or token == self._saved_token:
            return
        if time.monotonic() - self._saved_at < CHECKPOINT_S:
            return
        self._saved_at = time.monotonic()
        await self.checkpoint.save(token)
        self._saved_token = token

    async def _apply(self, event: Document) -> bool:
        """Apply one event; False when the collection itself went away (the stream must start afresh)."""
        kind = event["operationType"]
        if kind == "insert":
            doc, ct = event["fullDocument"], event["clusterTime"]
            self._remember(ct, doc)
            for listener in self.listeners:
                listener.inserted(doc, ct)
        elif kind in ("update", "replace"):
            touched = event.get("touched") if kind == "update" else None
            for listener, fields in zip(self.listeners, self._listener_fields, strict=True):
                if touches(touched, fields):
                    await listener.changed(event["documentKey"]["_id"])
        elif kind == "delete":
            for listener in self.listeners:
                listener.deleted(event["documentKey"]["_id"])
        else:  # drop, rename, dropDatabase, invalidate
            for listener in self.listeners:
                listener.reset()
            return False
        return True

    def _remember(self, ct: Timestamp, doc: Document) -> None:
        now = time.monotonic()
        self.recent.append((ct, doc, now))
        while self.recent and (len(self.recent) > RECENT_MAX or now - self.recent[0][2] > RECENT_SECONDS):
            self.dropped_up_to = self.recent.popleft()[0]

    def replay_after(self, since: Timestamp) -> list[Document] | None:
        """The inserts processed after cluster time `since`, or None if the log no longer reaches back to it."""
        if self.dropped_up_to is not None and self.dropped_up_to > since:
            return None
        return [doc for ct, doc, _ in self.recent if ct > since]


class ChangeStreams:
    """The service's change streams, one per collection, made on first use and run together."""

    def __init__(self, db: Database, problems: DatabaseProblems | None = None):
        """`problems`: the application's, which says what went wrong in a word (its own, if none)."""
        self.db = db
        self._problems = DatabaseProblems() if problems is None else problems
        self.watchers: dict[str, Watcher] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def on(self, collection: str) -> Watcher:
        if collection not in self.watchers:
            self.watchers[collection] = Watcher(self.db, collection, self._problems)
        return self.watchers[collection]

    @property
    def healthy(self) -> bool:
        return all(w.healthy for w in self.watchers.values())

    def start(self) -> None:
        self._tasks = [background(w.run(), f"watch {c}") for c, w in self.watchers.items()]

    def stop(self) -> list[asyncio.Task[None]]:
        """Every stream ends at its next turn; the tasks are returned, to be cancelled once the client is closed."""
        for watcher in self.watchers.values():
            watcher.stopping = True
        return self._tasks

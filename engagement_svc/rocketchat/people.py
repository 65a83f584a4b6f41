"""Rocket.Chat's accounts as the members table lists them: read once, then kept true by the `users` change stream.

A members page sorts every account of the server (100,000 on a big one), so reading them per request would cost
a scan of `users` each time; they are held instead, one small tuple an account (about 300 bytes with its
strings), and an account whose shown fields change is read again before the next answer. While the stream is not
followed, every answer reads them afresh (what changed meanwhile is not known).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from bson import Timestamp

from engagement_svc.mongo_types import Database, Document
from engagement_svc.rocketchat.changes import ChangeStreams, Watcher

SHOWN = ("username", "name", "type", "active", "createdAt", "roles")  # what a row shows, and who is a bot
BATCH = 1000  # accounts read again at once by id


class Person(NamedTuple):
    """One account of the members table: `type` "user" when absent, `active` false only when stored false."""

    id: str
    username: str | None
    name: str | None
    type: str
    active: bool
    created: datetime | None
    bot: bool  # Rocket.Chat's bot definition: type bot or app, or the bot role


def person(doc: Document) -> Person | None:
    """The row of a `users` document; None for an anonymous account (never listed) or an id that is not text."""
    roles = doc.get("roles")
    roles = roles if isinstance(roles, list) else [roles]
    uid = doc.get("_id")
    if not isinstance(uid, str) or "anonymous" in roles:
        return None
    kind = doc.get("type")
    username, name, created = doc.get("username"), doc.get("name"), doc.get("createdAt")
    return Person(
        sys.intern(uid),  # the same string object as the kept counts' keys, not a copy per account
        username if isinstance(username, str) else None,
        name if isinstance(name, str) else None,
        sys.intern(kind) if isinstance(kind, str) else "user",
        doc.get("active") is not False,
        created if isinstance(created, datetime) else None,
        kind in ("bot", "app") or "bot" in roles,
    )


class People:
    """Every listed account, by id, with a generation that changes whenever one of them does."""

    def __init__(self, db: Database, watcher: Watcher | None):
        self._db, self._watcher = db, watcher
        self._people: dict[str, Person] | None = None
        self._stale: set[str] = set()  # accounts changed since they were read
        self._resets = 0
        self._lock = asyncio.Lock()
        self.generation = 0
        if watcher is not None:
            watcher.listen(self, SHOWN, SHOWN)

    async def everyone(self) -> tuple[int, Mapping[str, Person]]:
        """The generation and the accounts (not to be changed by the caller)."""
        async with self._lock:
            if self._watcher is None or not self._watcher.healthy:
                self._people = None
                self.generation += 1
                return self.generation, await self._read({})
            if self._people is None:
                resets = self._resets
                self._stale.clear()  # accounts changed while they are read are read again below
                people = await self._read({})
                if resets != self._resets:  # the stream restarted meanwhile: read again next time
                    self.generation += 1
                    return self.generation, people
                self._people = people
                self.generation += 1
            if self._stale:
                await self._reread()
            return self.generation, self._people

    async def _reread(self) -> None:
        assert self._people is not None
        stale, self._stale = list(self._stale), set()
        for i in range(0, len(stale), BATCH):
            ids = stale[i : i + BATCH]
            found = await self._read({"_id": {"$in": ids}})
            for uid in ids:
                row = found.get(uid)
                if row is None:
                    self._people.pop(uid, None)
                else:
                    self._people[uid] = row
        self.generation += 1

    async def _read(self, query: Document) -> dict[str, Person]:
        out: dict[str, Person] = {}
        async for doc in self._db.users.find(query, dict.fromkeys(SHOWN, 1)):
            row = person(doc)
            if row is not None:
                out[row.id] = row
        return out

    # the users change stream's listener
    def _touched(self, ids: Iterable[object]) -> None:
        if self._people is None and not self._lock.locked():
            return  # nothing held, nothing being read: nothing to correct
        self._stale.update(uid for uid in ids if isinstance(uid, str))

    def inserted(self, doc: Document, cluster_time: Timestamp) -> None:
        self._touched([doc.get("_id")])

    async def changed(self, doc_id: object) -> None:
        self._touched([doc_id])

    def deleted(self, doc_id: object) -> None:
        self._touched([doc_id])

    def reset(self) -> None:
        self._resets += 1
        self._people = None
        self._stale.clear()

    def history_lost(self) -> None:
        self.reset()

    async def flush(self) -> None:
        pass


def people(db: Database, streams: ChangeStreams | None) -> People:
    return People(db, streams.on("users") if streams is not None else None)

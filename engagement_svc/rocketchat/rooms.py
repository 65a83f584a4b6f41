"""Which rooms count: a cached map of room id -> type, filled on demand and refreshed in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable

from bson import Timestamp

from engagement_svc.mongo_types import Database, Document
from engagement_svc.rocketchat.changes import Watcher

BATCH = 10_000
TEAMS_KEPT = 1_000  # teams' room lists remembered at most (all forgotten at once past it)
FLAG = "\x1f"  # a flagged key (a room's bot messages) is the room id, FLAG and the flag's name: see counting.catalog
# What the dashboard shows of a room, or decides by: a change to one is a change of the room lists.
SHOWN = ("t", "teamId", "usersCount", "name", "fname")
PART = "\x1e"  # between the parts of a compound key (a room and an author): the room is the first part


def room_of(key: str) -> str:
    """The room a key names: the key without its flag and without any part after the room."""
    if FLAG in key:
        key = key.split(FLAG, 1)[0]
    return key.split(PART, 1)[0] if PART in key else key


class RoomTypes:
    """Room types by id. A room missing from Rocket.Chat has type None and does not count.

    `generation` changes whenever a known room changes type (or is deleted), so sums derived from the map know
    when to be recomputed.
    """

    def __init__(self, db: Database, watcher: Watcher | None = None):
        self._db = db
        self._types: dict[str, str | None] = {}
        self._lock = asyncio.Lock()
        self.generation = 0
        self._watcher = watcher
        self._changes = 0  # rooms made, deleted or changed in a field the dashboard shows, as the stream tells
        # A team's rooms (and that it exists) as read at a version: asked again while it holds, not read again.
        self._teams: dict[tuple[tuple[str, ...], str], tuple[Hashable, dict[str, str]]] = {}
        self._known_teams: dict[str, Hashable] = {}
        if watcher is not None:
            watcher.listen(self, SHOWN, SHOWN)

    def version(self) -> Hashable | None:
        """Changes whenever a room is made or deleted, or changes type, team, name or member count; None while the
        rooms' change stream is not followed (what changed is not known)."""
        if self._watcher is None or not self._watcher.healthy:
            return None
        return (self._changes, self.generation)

    async def every(self, types: tuple[str, ...], team: str | None = None) -> dict[str, str]:
        """Every existing room of these types (of the team, when given): its id and type. A team's are remembered
        while `version` holds (a room joining or leaving it changes it)."""
        version = self.version() if team is not None else None
        if team is not None and version is not None:
            hit = self._teams.get((types, team))
            if hit is not None and hit[0] == version:
                return hit[1]
        query: Document = {"t": {"$in": list(types)}}
        if team is not None:
            query["teamId"] = team
        found = {
            doc["_id"]: doc["t"]
            async for doc in self._db.rocketchat_room.find(query, {"t": 1})
            if isinstance(doc.get("_id"), str) and isinstance(doc.get("t"), str)
        }
        if team is not None and version is not None:
            if len(self._teams) >= TEAMS_KEPT:
                self._teams.clear()
            self._teams[(types, team)] = (version, found)  # the version as of before the read: never newer
        return found

    async def team_exists(self, team: str) -> bool:
        """Whether the team exists; one found is remembered while `version` holds (a team deleted takes its rooms
        out of it, which changes it)."""
        version = self.version()
        if version is not None and self._known_teams.get(team) == version:
            return True
        found = await self._db.rocketchat_team.find_one({"_id": team}, {"_id": 1}) is not None
        if found and version is not None:
            if len(self._known_teams) >= TEAMS_KEPT:
                self._known_teams.clear()
            self._known_teams[team] = version
        return found

    async def teams(self) -> list[tuple[Document, int]]:
        """Every team (its `_id`, `name`, `type`, `roomId`) with the number of its existing channels and groups."""
        teams = [doc async for doc in self._db.rocketchat_team.find({}, {"name": 1, "type": 1, "roomId": 1})]
        cursor = await self._db.rocketchat_room.aggregate(
            [
                {"$match": {"teamId": {"$in": [t["_id"] for t in teams]}, "t": {"$in": ["c", "p"]}}},
                {"$group": {"_id": "$teamId", "rooms": {"$sum": 1}}},
            ]
        )
        rooms = {doc["_id"]: doc["rooms"] async for doc in cursor}
        return [(team, rooms.get(team["_id"], 0)) for team in teams]

    # the rooms' change stream's listener
    def inserted(self, doc: Document, cluster_time: Timestamp) -> None:
        self._changes += 1

    async def changed(self, doc_id: object) -> None:
        self._changes += 1

    def deleted(self, doc_id: object) -> None:
        self._changes += 1

    def reset(self) -> None:
        self._changes += 1

    def history_lost(self) -> None:
        self._changes += 1

    async def flush(self) -> None:
        pass

    def knows(self, key: str) -> bool:
        return room_of(key) in self._types

    def kind(self, key: str) -> str | None:
        """The room's type (c, p, d, l, v...), or None for a room that no longer exists; for a flagged key, the
        type plus the flag ("c" FLAG "bot"). A compound key (room PART author) is its room's."""
        if FLAG in key:
            head, flag = key.split(FLAG, 1)
            kind = self._types.get(head.split(PART, 1)[0] if PART in head else head)
            return None if kind is None else kind + FLAG + flag
        if PART in key:
            return self._types.get(key.split(PART, 1)[0])
        return self._types.get(key)

    def forget(self, rid: str) -> None:
        """A room found gone while answering: it stops counting at once (sums derived from the map are redone)."""
        if self._types.get(rid) is not None:
            self._types[rid] = None
            self.generation += 1

    async def ensure(self, keys: Iterable[str]) -> None:
        """Look up, in one query per 10,000, the rooms not seen before."""
        missing = [rid for rid in {room_of(key) for key in keys} if rid not in self._types]
        if not missing:
            return
        async with self._lock:
            missing = [rid for rid in missing if rid not in self._types]
            for i in range(0, len(missing), BATCH):
                await self._fetch(missing[i : i + BATCH])

    async def _fetch(self, rids: list[str]) -> bool:
        found = {
            doc["_id"]: doc.get("t") async for doc in self._db.rocketchat_room.find({"_id": {"$in": rids}}, {"t": 1})
        }
        changed = False
        for rid in rids:
            new = found.get(rid)
            if rid in self._types and self._types[rid] != new:
                changed = True
            self._types[rid] = new
        return changed

    def __len__(self) -> int:
        return len(self._types)

    async def documents(self, rids: list[str]) -> dict[str, Document]:
        """The rooms' documents (the fields the dashboard shows), by id; a room that no longer exists is absent."""
        return await room_documents(self._db, rids)

    async def refresh(self, named: Callable[[], set[str]] | None = None) -> None:
        """Re-read every known room's type; bump `generation` if any changed. With `named` (the keys kept counts
        name, asked once the lock is held), rooms named by none are dropped first: the map holds at most the rooms
        of kept counts."""
        async with self._lock:
            if named is not None:
                rids = {room_of(key) for key in named()}
                for rid in [rid for rid in self._types if rid not in rids]:
                    del self._types[rid]
            known = list(self._types)
            changed = False
            for i in range(0, len(known), BATCH):
                changed |= await self._fetch(known[i : i + BATCH])
            if changed:
                self.generation += 1


ROOM_FIELDS = {"name": 1, "fname": 1, "t": 1, "ts": 1, "_updatedAt": 1, "usernames": 1, "usersCount": 1, "teamId": 1}

DOCUMENT_BATCH = 1000


async def room_documents(db: Database, rids: list[str]) -> dict[str, Document]:
    """The rooms' documents (the fields the dashboard shows), by id; a room that no longer exists is absent."""
    found: dict[str, Document] = {}
    for i in range(0, len(rids), DOCUMENT_BATCH):
        async for doc in db.rocketchat_room.find({"_id": {"$in": rids[i : i + DOCUMENT_BATCH]}}, ROOM_FIELDS):
            found[doc["_id"]] = doc
    return found

"""The service's own state: the kept counts of closed UTC days, in a database the service may write.

Rocket.Chat's database stays read-only; one document per metric and UTC day lives in `engagement_svc_counts` of
the state database (by default `engagement_svc` on MongoDB's own server), shared by restarts and replicas. Its
key names the source database, the metric and its version, so two sources, or an old and a new rule, never mix.
Nothing in it depends on a time zone: every zone's answers are sums of the same slots. Counts are stored as
packed arrays (about 9 bytes per non-empty key and slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from array import array
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TypedDict

import bson
from bson import Binary
from bson.raw_bson import RawBSONDocument
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError, InvalidOperation, PyMongoError

from engagement_svc.counting.catalog import Metric
from engagement_svc.counting.kept import ClosedDay, PresenceDay
from engagement_svc.counting.slots import utc_day_date
from engagement_svc.days import EPOCH_ORDINAL
from engagement_svc.mongo_types import Collection, Database, Document, ResumeToken

log = logging.getLogger("engagement_svc.state")

COUNTS_COLLECTION = "engagement_svc_counts"
PARAMS_COLLECTION = "engagement_svc_params"  # the sets rules were counted with (the bot users), per source
STREAMS_COLLECTION = "engagement_svc_streams"  # each change stream's resume token, with the days still to recount
CLAIMS_COLLECTION = "engagement_svc_claims"  # days a replica is counting now (expiring), so no other counts them too
RETIRED_COLLECTIONS = ("engagement_svc_days",)  # per-zone days of releases before the slot engine
SAVE_BATCH_DAYS = 2  # days per write of kept counts


def _replacements(source: str, metric: Metric, days: list[ClosedDay], now: datetime) -> list[ReplaceOne[Document]]:
    """The days' documents, encoded (BSON) here, once."""
    return [
        ReplaceOne(
            {"_id": day_key(source, metric, d.day)},
            RawBSONDocument(
                bson.encode(
                    {
                        "source": source,
                        "metric": f"{metric.name}.v{metric.version}",
                        "day": utc_day_date(d.day).isoformat(),
                        "keys": list(d.keys),
                        "starts": _packed(array("I", d.starts)),  # stored as 32-bit, however kept
                        **_entries(d),
                        "raw": d.raw,
                        "counted_at": now,
                    }
                )
            ),
            upsert=True,
        )
        for d in days
    ]


def _entries(d: ClosedDay) -> dict[str, Binary]:
    """A day's entries: a PresenceDay's runs (two bytes each), else its slots and their counts (32-bit)."""
    if isinstance(d, PresenceDay):
        return {"runs": Binary(d.runs)}
    return {"slots": Binary(d.slots), "counts": _packed(array("I", d.counts))}


def day_key(source: str, metric: Metric, day: int) -> str:
    return f"{source}|{metric.name}.v{metric.version}|{utc_day_date(day).isoformat()}"


async def source_id(db: Database) -> str:
    """What identifies the Rocket.Chat database across URLs and restarts: its installation's `uniqueID` setting
    with the database name; without that setting, the replica set's name and the database name."""
    setting = await db.rocketchat_settings.find_one({"_id": "uniqueID"}, {"value": 1})
    if setting and isinstance(setting.get("value"), str) and setting["value"]:
        return f"rc:{setting['value']}/{db.name}"
    hello = await db.client.admin.command("hello")
    return f"rs:{hello.get('setName', '-')}/{db.name}"


def _day_number(iso: str) -> int:
    return date.fromisoformat(iso).toordinal() - EPOCH_ORDINAL


def _packed(values: array[int]) -> Binary:
    return Binary(values.tobytes())


def _unpacked(kind: str, data: bytes) -> array[int]:
    values = array(kind)
    values.frombytes(bytes(data))
    return values


class SavedPosition(TypedDict):
    """A change stream's saved position (see StateStore.save_checkpoint)."""

    token: ResumeToken
    pending: dict[str, set[int]]  # metric -> the UTC days still to recount
    lost: bool


class StateStore:
    """Loads and saves closed days. A state database that cannot be written is logged once and not fatal: the
    service then keeps its counts in memory only."""

    def __init__(self, db: Database):
        self._db = db
        self._warned = False

    @property
    def collection(self) -> Collection:
        return self._db[COUNTS_COLLECTION]

    async def retire_old_collections(self) -> None:
        """Counts kept per zone by earlier releases are superseded by the slots: drop them, once."""
        with self._tolerant("tidy"):
            names = set(await self._db.list_collection_names())
            for name in RETIRED_COLLECTIONS:
                if name in names:
                    await self._db.drop_collection(name)
                    log.info("state database: dropped %s (counts per zone, superseded by UTC slots)", name)

    async def prepare(self) -> None:
        """Claims expire by themselves (a TTL index on `until`), whoever made them."""
        with self._tolerant("prepare"):
            await self._db[CLAIMS_COLLECTION].create_index("until", expireAfterSeconds=0)

    async def claim(self, source: str, metric: Metric, days: Iterable[int], owner: str, seconds: float) -> set[int]:
        """The days `owner` may count now: those no other replica has a live claim on (claimed here, for
        `seconds`). A claim that cannot be written is not waited for: then every day is the owner's."""
        keys = {day_key(source, metric, d): d for d in days}
        if not keys:
            return set()
        now = datetime.now(UTC)
        until = now + timedelta(seconds=seconds)
        claims = self._db[CLAIMS_COLLECTION]
        mine = set(keys.values())
        with self._tolerant("claim"):
            try:
                await claims.insert_many([{"_id": k, "owner": owner, "until": until} for k in keys], ordered=False)
                return mine
            except BulkWriteError as exc:
                held = {e["op"]["_id"] for e in exc.details["writeErrors"] if e["code"] == 11000}
                if len(held) != len(exc.details["writeErrors"]):
                    raise
            for key in list(held):  # an expired claim (its replica died) is taken over
                taken = await claims.update_one(
                    {"_id": key, "until": {"$lt": now}}, {"$set": {"owner": owner, "until": until}}
                )
                if taken.modified_count:
                    held.discard(key)
            mine = {d for k, d in keys.items() if k not in held}
        return mine

    async def claimed(self, source: str, metric: Metric, days: Iterable[int]) -> set[int]:
        """Which of these days some replica has a live claim on."""
        keys = {day_key(source, metric, d): d for d in days}
        found: set[int] = set()
        with self._tolerant("read"):
            docs = self._db[CLAIMS_COLLECTION].find({"_id": {"$in": list(keys)}, "until": {"$gte": datetime.now(UTC)}})
            found = {keys[doc["_id"]] async for doc in docs}
        return found

    async def release(self, source: str, metric: Metric, days: Iterable[int], owner: str) -> None:
        keys = [day_key(source, metric, d) for d in days]
        if not keys:
            return
        with self._tolerant("write"):
            await self._db[CLAIMS_COLLECTION].delete_many({"_id": {"$in": keys}, "owner": owner})

    async def load(self, source: str, metric: Metric, days: list[int]) -> dict[int, ClosedDay]:
        keys = {day_key(source, metric, d): d for d in days}
        found: dict[int, ClosedDay] = {}
        with self._tolerant("read"):
            async for doc in self.collection.find({"_id": {"$in": list(keys)}}):
                day, starts = keys[doc["_id"]], _unpacked("I", doc["starts"])
                if "runs" in doc:
                    found[day] = PresenceDay.from_runs(day, doc["keys"], starts, bytes(doc["runs"]), doc["raw"])
                else:  # a day of presence saved by an earlier release (slots and counts of 1) becomes runs here
                    slots, counts = bytes(doc["slots"]), _unpacked("I", doc["counts"])
                    found[day] = ClosedDay.from_arrays(day, doc["keys"], starts, slots, counts, doc["raw"])
        return found

    async def save(self, source: str, metric: Metric, days: list[ClosedDay]) -> None:
        """The days written, a few at a time (each write's documents encoded in a worker thread, see _save)."""
        for i in range(0, len(days), SAVE_BATCH_DAYS):
            await self._save(source, metric, days[i : i + SAVE_BATCH_DAYS])

    async def _save(self, source: str, metric: Metric, days: list[ClosedDay]) -> None:
        # Encoded in a thread: encoding a big server's days is CPU work that would hold the event loop, and requests.
        ops = await asyncio.to_thread(_replacements, source, metric, days, datetime.now(UTC))
        with self._tolerant("write"):
            await self.collection.bulk_write(ops, ordered=False)

    async def oldest_day(self, source: str, metric: Metric) -> int | None:
        """The oldest UTC day kept of this metric (its keys sort by date after the metric's prefix)."""
        prefix = f"{source}|{metric.name}.v{metric.version}|"
        doc = None
        with self._tolerant("read"):
            doc = await self.collection.find_one(
                {"_id": {"$gte": prefix, "$lt": prefix + "\uffff"}}, {"day": 1}, sort=[("_id", 1)]
            )
        if doc is None:
            return None
        return _day_number(doc["day"])

    async def forget(self, source: str, metric: Metric, days: set[int]) -> None:
        """Drop these days (whoever reads them next counts them again)."""
        with self._tolerant("write"):
            await self.collection.delete_many({"_id": {"$in": [day_key(source, metric, d) for d in days]}})

    async def stored_days(self, source: str, metric: Metric) -> list[int]:
        """Every UTC day kept of this metric in the state database."""
        prefix = f"{source}|{metric.name}.v{metric.version}|"
        found: list[int] = []
        with self._tolerant("read"):
            docs = self.collection.find({"_id": {"$gte": prefix, "$lt": prefix + "\uffff"}}, {"day": 1})
            found = [_day_number(doc["day"]) async for doc in docs]
        return found

    async def load_checkpoint(self, source: str, collection: str) -> SavedPosition | None:
        """The stream's saved resume token and the days it left to recount, per metric (None: never saved)."""
        doc = None
        with self._tolerant("read"):
            doc = await self._db[STREAMS_COLLECTION].find_one({"_id": f"{source}|{collection}"})
        if doc is None or not isinstance(doc.get("token"), dict):
            return None
        pending = {m: {_day_number(d) for d in days} for m, days in doc.get("pending", {}).items()}
        return {"token": doc["token"], "pending": pending, "lost": bool(doc.get("lost"))}

    async def save_checkpoint(
        self, source: str, collection: str, token: ResumeToken, pending: dict[str, set[int]], lost: bool = False
    ) -> bool:
        """One write: every event up to `token` is in the kept counts, except on the `pending` days (per metric),
        whose recounts are not saved yet, and, with `lost`, except everything (the stream's history was lost
        and the recount of every kept day has not begun). False if it could not be written."""
        saved = False
        with self._tolerant("write"):
            await self._db[STREAMS_COLLECTION].replace_one(
                {"_id": f"{source}|{collection}"},
                {
                    "token": token,
                    "pending": {
                        m: [utc_day_date(d).isoformat() for d in sorted(days)] for m, days in pending.items() if days
                    },
                    "lost": lost,
                    "saved_at": datetime.now(UTC),
                },
                upsert=True,
            )
            saved = True
        return saved

    async def load_param(self, source: str, name: str) -> frozenset[str] | None:
        """The set the kept counts were made with (None: never saved, or unreadable)."""
        doc = None
        with self._tolerant("read"):
            doc = await self._db[PARAMS_COLLECTION].find_one({"_id": f"{source}|{name}"})
        return None if doc is None else frozenset(doc["values"])

    async def save_param(self, source: str, name: str, values: frozenset[str]) -> None:
        with self._tolerant("write"):
            await self._db[PARAMS_COLLECTION].replace_one(
                {"_id": f"{source}|{name}"},
                {"values": sorted(values), "saved_at": datetime.now(UTC)},
                upsert=True,
            )

    @contextlib.contextmanager
    def _tolerant(self, what: str) -> Iterator[None]:
        """A failure of the state database is passed over (logged once, see `_warn`), so the caller goes on with
        what it had; a timeout is not: it is the caller's deadline."""
        try:
            yield
        except PyMongoError as exc:
            if exc.timeout:
                raise
            self._warn(what, exc)

    def _warn(self, what: str, exc: PyMongoError) -> None:
        if isinstance(exc, InvalidOperation):  # the client is closed: the service is stopping, nothing is lost
            log.debug("state database: %s skipped while stopping", what)
            return
        if not self._warned:
            self._warned = True
            log.warning("state database: cannot %s (%s); closed days are kept in memory only", what, type(exc).__name__)

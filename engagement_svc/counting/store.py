"""The service's own state: per-room counts of closed days, in a database the service may write.

Rocket.Chat's database stays read-only; these documents live in `engagement_svc_days` of the state database
(by default `engagement_svc` on MongoDB's own server), shared by restarts and replicas. Each document's key
names the source database and the zone, so two sources or two zones can never mix their counts.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from pymongo import ReplaceOne
from pymongo.errors import PyMongoError

from engagement_svc.counting.rules import DayCount

log = logging.getLogger("engagement_svc.counting.store")

DAYS_COLLECTION = "engagement_svc_days"


def day_key(source: str, zone: str, day: date) -> str:
    return f"{source}|{zone}|{day.isoformat()}"


async def source_id(db) -> str:
    """What identifies the Rocket.Chat database across URLs and restarts: its installation's `uniqueID` setting
    with the database name; without that setting, the replica set's name and the database name."""
    setting = await db.rocketchat_settings.find_one({"_id": "uniqueID"}, {"value": 1})
    if setting and isinstance(setting.get("value"), str) and setting["value"]:
        return f"rc:{setting['value']}/{db.name}"
    hello = await db.client.admin.command("hello")
    return f"rs:{hello.get('setName', '-')}/{db.name}"


class StateStore:
    """Loads and saves closed days. A state database that cannot be written is logged once and not fatal: the
    service then keeps its counts in memory only."""

    def __init__(self, db):
        self._db = db
        self._warned = False

    @property
    def collection(self):
        return self._db[DAYS_COLLECTION]

    async def load(self, source: str, zone: str, days: list[date]) -> dict[date, DayCount]:
        keys = {day_key(source, zone, d): d for d in days}
        found: dict[date, DayCount] = {}
        try:
            async for doc in self.collection.find({"_id": {"$in": list(keys)}}):
                found[keys[doc["_id"]]] = DayCount(dict(zip(doc["rids"], doc["counts"], strict=True)), doc["raw"])
        except PyMongoError as exc:
            if exc.timeout:
                raise
            self._warn("read", exc)
        return found

    async def save(self, source: str, zone: str, days: dict[date, DayCount]) -> None:
        if not days:
            return
        now = datetime.now(UTC)
        ops = [
            ReplaceOne(
                {"_id": day_key(source, zone, d)},
                {
                    "source": source,
                    "zone": zone,
                    "day": d.isoformat(),
                    "rids": list(c.rooms),
                    "counts": list(c.rooms.values()),
                    "raw": c.raw,
                    "counted_at": now,
                },
                upsert=True,
            )
            for d, c in days.items()
        ]
        try:
            await self.collection.bulk_write(ops, ordered=False)
        except PyMongoError as exc:
            if exc.timeout:
                raise
            self._warn("write", exc)

    async def forget(self, source: str, days: set[date]) -> None:
        """Drop these days of every zone (they are counted again when next read)."""
        try:
            await self.collection.delete_many({"source": source, "day": {"$in": sorted(d.isoformat() for d in days)}})
        except PyMongoError as exc:
            if exc.timeout:
                raise
            self._warn("write", exc)

    def _warn(self, what: str, exc: PyMongoError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("state database: cannot %s (%s); closed days are kept in memory only", what, type(exc).__name__)

"""The weekly digest inside `serve`: due on a weekday's hour in the service's zone, sent once whatever the number of
replicas (the first to claim it in the state database sends it; the others see the claim and do not).

A claim is a document of `engagement_svc_digests`, keyed by the database, the period and its first day. It holds a
lease while its replica sends: a replica that dies sending leaves a claim another takes over once the lease is
over. Sent or given up, the claim stays (for 90 days, then MongoDB drops it), so a replica started later that day
does not send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
from aiohttp import web
from pymongo.errors import DuplicateKeyError, PyMongoError

from engagement_svc.counting.work import CALLER, Busy
from engagement_svc.days import load_zone
from engagement_svc.digest.figures import collect
from engagement_svc.digest.message import payload
from engagement_svc.digest.period import Period, last_due, next_due
from engagement_svc.digest.webhook import ATTEMPTS, FIRST_WAIT_S, Delivery, post, redacted
from engagement_svc.mongo_types import Database
from engagement_svc.reports.queries import BadRequest
from engagement_svc.reports.sources import Sources
from engagement_svc.resources import SETTINGS, SOURCES, STATE_DB
from engagement_svc.settings import Settings
from engagement_svc.tasks import background

log = logging.getLogger("engagement_svc.digest")

DIGESTS_COLLECTION = "engagement_svc_digests"
CATCH_UP = timedelta(hours=12)  # a replica started this long after the due hour still sends a digest not sent
LEASE = timedelta(minutes=30)  # counting cold history and every retry fit in it
KEPT = timedelta(days=90)
RETRY_S = (60.0, 120.0, 300.0, 900.0)  # waits after a failure to claim or to count (the database's trouble)
COUNT_TIMEOUT_S = 600  # counting a digest's numbers, as long as a background count may take
SLEEP_CAP_S = 3600  # the clock is looked at again at least hourly (a suspended host, a changed offset)


class Claims:
    """Who sends which digest, in the state database."""

    def __init__(self, db: Database):
        self.collection = db[DIGESTS_COLLECTION]

    async def prepare(self) -> None:
        await self.collection.create_index("expires", expireAfterSeconds=0)

    async def claim(self, key: str, owner: str, now: datetime) -> bool:
        """True when `owner` is to send it: no claim yet, or a claim whose sender died before it was done."""
        try:
            await self.collection.insert_one(
                {"_id": key, "owner": owner, "state": "sending", "until": now + LEASE, "expires": now + KEPT}
            )
            return True
        except DuplicateKeyError:
            taken = await self.collection.update_one(
                {"_id": key, "state": "sending", "until": {"$lt": now}},
                {"$set": {"owner": owner, "until": now + LEASE}},
            )
            return taken.modified_count == 1

    async def finish(self, key: str, owner: str, state: str) -> None:
        await self.collection.update_one(
            {"_id": key, "owner": owner}, {"$set": {"state": state, "finished": datetime.now(UTC)}}
        )

    async def release(self, key: str, owner: str) -> None:
        """Not sent, for a reason another try may not have: the next to look may claim it at once."""
        await self.collection.delete_one({"_id": key, "owner": owner, "state": "sending"})


Post = Callable[[str, dict[str, Any]], Awaitable[Delivery]]


class Scheduler:
    """One replica's weekly digest. `outcomes`: per claim key, what this replica did about it (`sent`, `failed`,
    `claimed elsewhere`), for operators' logs and tests."""

    def __init__(
        self,
        sources: Sources,
        state_db: Database,
        settings: Settings,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        attempts: int = ATTEMPTS,
        first_wait_s: float = FIRST_WAIT_S,
    ):
        zone = load_zone(settings.timezone)
        assert zone is not None  # checked by the settings
        self.zone, self.sources, self.settings, self.now = zone, sources, settings, now
        self.claims = Claims(state_db)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.attempts, self.first_wait_s = attempts, first_wait_s
        self.outcomes: dict[str, str] = {}

    def key(self, period: Period) -> str:
        return f"{self.settings.database}|{period.name}|{period.first.isoformat()}"

    def period_due(self, due: datetime) -> Period:
        """The digest due at `due` sums up the days up to the day before (whenever it is sent)."""
        return Period(self.settings.digest_period, self.zone, due.astimezone(self.zone).date() - timedelta(days=1))

    async def run(self) -> None:
        s = self.settings
        log.info(
            "weekly digest of %s to %s, due %s at %02d:00 (%s)",
            s.digest_period, redacted(s.digest_webhook), s.digest_weekday, s.digest_hour, s.timezone,
        )  # fmt: skip
        try:
            await self.claims.prepare()
        except PyMongoError as exc:  # claims still work; only their clean-up waits for a later start
            log.warning("digest: cannot index %s (%s)", DIGESTS_COLLECTION, type(exc).__name__)
        failures = 0
        while True:
            now = self.now()
            due = last_due(now, s.digest_weekday, s.digest_hour, self.zone)
            key = self.key(self.period_due(due))
            if now - due <= CATCH_UP and key not in self.outcomes:
                if await self.send(due):
                    failures = 0
                    continue
                wait = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
            else:
                wait = (next_due(now, s.digest_weekday, s.digest_hour, self.zone) - now).total_seconds()
            await asyncio.sleep(max(1.0, min(wait, SLEEP_CAP_S)))

    async def send(self, due: datetime) -> bool:
        """The digest due then: claimed, counted, posted, and its claim marked. False: the database failed (a
        later try may do better); the outcome is then not final."""
        period = self.period_due(due)
        key = self.key(period)
        try:
            if not await self.claims.claim(key, self.owner, self.now()):
                self.outcomes[key] = "claimed elsewhere"
                log.info("digest of %s: another replica has it", period.describe())
                return True
        except PyMongoError as exc:
            log.warning("digest of %s: cannot claim it (%s); trying again later", period.describe(), type(exc).__name__)
            return False
        try:
            CALLER.set("digest")  # its counting queued as a caller's, not as background work that waits for idle
            with pymongo.timeout(COUNT_TIMEOUT_S):
                digest = await collect(self.sources, self.settings, period)
        except (PyMongoError, TimeoutError, Busy) as exc:
            log.warning("digest of %s: cannot count it (%s); trying again later", period.describe(), type(exc).__name__)
            await self._release(key)
            return False
        except BadRequest as exc:  # the settings forbid the period's range: no later try does better
            log.error("digest of %s: cannot count it: %s", period.describe(), exc)
            self.outcomes[key] = "failed"
            await self._finish(key)
            return True
        delivery = await post(self.settings.digest_webhook, payload(digest), self.attempts, self.first_wait_s)
        self.outcomes[key] = "sent" if delivery.ok else "failed"
        await self._finish(key)
        return True

    async def _finish(self, key: str) -> None:
        try:
            await self.claims.finish(key, self.owner, self.outcomes[key])
        except PyMongoError as exc:  # the claim's lease runs out: another replica would send it again
            log.warning("digest %s: its claim not marked %s (%s)", key, self.outcomes[key], type(exc).__name__)

    async def _release(self, key: str) -> None:
        with contextlib.suppress(PyMongoError):  # else the lease ends by itself
            await self.claims.release(key, self.owner)


DIGEST = web.AppKey("digest", Scheduler)


async def digest_context(app: web.Application) -> AsyncIterator[None]:
    """The scheduler of a `serve` whose ENGAGEMENT_DIGEST_WEBHOOK is set, started after the engine and stopped
    before it."""
    settings = app[SETTINGS]
    if not settings.digest_webhook:
        yield
        return
    app[DIGEST] = scheduler = Scheduler(app[SOURCES], app[STATE_DB], settings)
    task = background(scheduler.run(), "digest")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

"""What the application holds: its settings, the MongoDB clients and databases, the engine and what reports read,
each under a typed key.

The clients and the engine are made and closed by `mongo_context`, the app's cleanup context, so that a test
app, a demo and a production process own their resources the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pymongo
from aiohttp import web
from pymongo import AsyncMongoClient, ReadPreference, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from engagement_svc import __version__
from engagement_svc.counting.engine import Engine
from engagement_svc.counting.work import CALLER, DEADLINE
from engagement_svc.memory import Releaser
from engagement_svc.metrics import Metrics, Refreshed, Sample
from engagement_svc.mongo_errors import DatabaseProblems
from engagement_svc.mongo_health import DatabaseHealth
from engagement_svc.mongo_types import Client, Database
from engagement_svc.mongo_waits import install as install_mongo_waits
from engagement_svc.reports import gauges
from engagement_svc.reports.calendar import Calendar
from engagement_svc.reports.sources import Sources
from engagement_svc.rocketchat.auth import UserLookups, user_lookups
from engagement_svc.rocketchat.changes import ChangeStreams
from engagement_svc.rocketchat.people import people
from engagement_svc.rocketchat.ratelimit import RateLimiter
from engagement_svc.rocketchat.workspace import Workspace
from engagement_svc.settings import Network, Settings

log = logging.getLogger("engagement_svc")

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
ENGINE = web.AppKey("engine", Engine)
SOURCES = web.AppKey("sources", Sources)  # what reports read: the engine's counts, the rooms, the calendar
# The databases: Rocket.Chat's, read from the primary, and the service's own (counts, claims, checkpoints). Each
# key names the class; its annotation adds the document type (mongo_types.Database).
ROCKETCHAT_DB: web.AppKey[Database] = web.AppKey("rocketchat_db", AsyncDatabase)
STATE_DB: web.AppKey[Database] = web.AppKey("state_db", AsyncDatabase)
WORKSPACE = web.AppKey("workspace", Workspace)  # Rocket.Chat's settings and permissions, followed live
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
STREAMS = web.AppKey("streams", ChangeStreams)
DB_HEALTH = web.AppKey("db_health", DatabaseHealth)  # Rocket.Chat's MongoDB known down, and why
DB_PROBLEMS = web.AppKey("db_problems", DatabaseProblems)  # what went wrong, in a word (credentials remembered)
USER_LOOKUPS = web.AppKey("user_lookups", UserLookups)
RELEASER = web.AppKey("releaser", Releaser)  # freed memory back to the system after a request's peak
CLOSE_TIMEOUT_S = 3


def mongo_client(
    settings: Settings,
    metrics: Metrics | None = None,
    health: DatabaseHealth | None = None,
    problems: DatabaseProblems | None = None,
) -> Client:
    install_mongo_waits()  # before the first client: PyMongo's own wait can leave its topology lock held (3.11)
    listeners = [x for x in (metrics.listener if metrics else None, health, problems) if x is not None]
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        event_listeners=listeners,
        appname=f"engagement-svc/{__version__}",
        serverSelectionTimeoutMS=settings.query_timeout_ms,
        connectTimeoutMS=min(settings.query_timeout_ms, 10_000),
    )


async def mongo_context(app: web.Application) -> AsyncIterator[None]:
    """The clients (Rocket.Chat's database, and the state database if it is elsewhere), the change streams,
    the remembered user lookups and the engine; stopped and closed in the reverse order."""
    settings, metrics = app[SETTINGS], app[METRICS]
    app[DB_HEALTH] = health = DatabaseHealth()
    problems = app[DB_PROBLEMS]
    client = mongo_client(settings, metrics, health, problems)
    probing = asyncio.ensure_future(health.probe_while_down(client))
    state_client = (
        mongo_client(replace(settings, mongo_url=settings.state_mongo_url), metrics, problems=problems)
        if settings.state_mongo_url
        else client
    )
    # Reads that need the newest data (requests, snapshots, change streams, sign-in) go to the primary; counting
    # closed days follows MONGO_URL's read preference (a secondary, with secondaryPreferred).
    heavy_db = client[settings.database]
    db = heavy_db.with_options(read_preference=ReadPreference.PRIMARY)
    app[STREAMS] = streams = ChangeStreams(db, problems)
    app[USER_LOOKUPS] = user_lookups(streams)
    # The state database: read from the primary (what another replica just saved or dropped), written to a
    # majority (a checkpoint that a failover rolls back would be a position without its counts).
    state_db = state_client[settings.state_database].with_options(
        read_preference=ReadPreference.PRIMARY, write_concern=WriteConcern("majority")
    )
    app[ROCKETCHAT_DB], app[STATE_DB] = db, state_db
    app[ENGINE] = engine = Engine(db, state_db, settings, streams, heavy_db=heavy_db)
    app[SOURCES] = sources = Sources(counts=engine, rooms=engine.rooms, calendar=Calendar(), people=people(db, streams))
    engagement = engagement_gauges(settings, sources, db) if settings.gauges_seconds else None
    if engagement is not None:
        metrics.add(engagement)
    streams.start()
    engine.start()
    yield
    if engagement is not None:
        metrics.remove(engagement)
    # Background loops are told to stop; then the clients close, which ends every read in flight (a read
    # cancelled inside PyMongo's server selection can be retried until its deadline, or stay stuck on its lock);
    # then whatever is left is cancelled. Closing ends the server sessions, which waits on a hung server for its
    # socket timeout (15 s seen): it gets CLOSE_TIMEOUT_S, and the sockets are left to the process's exit.
    probing.cancel()
    futures = [*streams.stop(), *engine.stop()]
    closing = {asyncio.ensure_future(c.close()) for c in {client, state_client}}
    _, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
    if late:
        log.warning("MongoDB did not close its connections within %d s; exiting regardless", CLOSE_TIMEOUT_S)
    for future in futures:
        future.cancel()
    if futures:
        await asyncio.wait(futures, timeout=2.0)


async def memory_context(app: web.Application) -> AsyncIterator[None]:
    """What gives freed memory back after a request's peak (see memory.Releaser); a release under way ends first."""
    app[RELEASER] = releaser = Releaser()
    yield
    await releaser.stop()


GAUGES_CALLER = "engagement-gauges"  # the work queue's name for the gauges' counting (shared fairly, as a user's)


def engagement_gauges(settings: Settings, sources: Sources, db: Database) -> Refreshed:
    """Today's engagement figures on /metrics (reports/gauges.py), read as a request reads them: within the
    query time limit, its counting queued under a caller of its own. A ping first: values are shown as fresh only
    when the database answered (counts in memory can be read while it hangs, but may lag what happened)."""
    limit = settings.query_timeout_ms / 1000

    async def read() -> list[Sample]:
        CALLER.set(GAUGES_CALLER)
        DEADLINE.set(time.monotonic() + limit)
        with pymongo.timeout(limit):
            await db.command("ping")
            return await gauges.today(sources, settings.timezone)

    return Refreshed(gauges.FAMILIES, read, every=settings.gauges_seconds, timeout=limit)


def figures(app: web.Application) -> dict[str, Any]:
    """The running service's counters and gauges for /metrics (see metrics.COUNTERS and GAUGES)."""
    engine, lookups, streams = app.get(ENGINE), app.get(USER_LOOKUPS), app.get(STREAMS)
    out: dict[str, Any] = {}
    if engine is not None:
        sources = app.get(SOURCES)
        caches = [*engine.caches(), *(sources.calendar.caches() if sources is not None else [])]
        out["caches"] = {cache.name: cache.stats() for cache in caches}
        out.update({f"engagement_svc_days_{k}": v for k, v in engine.stats.items()})
        work = engine.work.stats
        out.update(
            {
                "engagement_svc_work_jobs": work["jobs_run"],
                "engagement_svc_work_joined": work["joined"],
                "engagement_svc_work_refused": work["refused"],
                "engagement_svc_work_queued_days": engine.work.queued_units,
            }
        )
        out.update(dict(zip(("engagement_svc_kept_days", "engagement_svc_kept_bytes"), engine.kept(), strict=True)))
        out["engagement_svc_room_types"] = len(engine.rooms)
        progress = engine.progress()
        out["engagement_svc_backfill_days_counted"] = progress["days_counted"]
        out["engagement_svc_backfill_days_left"] = progress["days_left"]
        out["engagement_svc_backfill_seconds_left"] = progress["seconds_left"] or 0
    if lookups is not None:
        out.update(
            {
                "engagement_svc_auth_lookups": lookups.stats["lookups"],
                "engagement_svc_auth_lookups_remembered": lookups.stats["remembered"],
            }
        )
    releaser = app.get(RELEASER)
    if releaser is not None:
        out["engagement_svc_memory_releases"] = releaser.releases
    if streams is not None:
        out["engagement_svc_change_stream_up"] = 1 if streams.watchers and streams.healthy else 0
    return out

"""Prometheus metrics at /metrics: requests by route and status, MongoDB command latency, the engine's counters,
and gauges read from the database at scrape time (`Refreshed`: the engagement gauges).

Each app has its own registry, so several apps in one process (the tests) never share or collide. Labels are
bounded: the route's pattern (never the raw path), the status code, MongoDB's command name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeAlias

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from pymongo import monitoring

log = logging.getLogger("engagement_svc")

# Warm answers take about a millisecond and cold ones seconds: buckets cover both.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# Figures read at scrape time from the running service (see resources.figures), name -> help.
COUNTERS = {
    "engagement_svc_days_closed_hits": "Kept UTC days answered from memory",
    "engagement_svc_days_closed_misses": "Closed UTC days not in memory: read back from the state database or counted",
    "engagement_svc_days_state_hits": "Closed UTC days read back from the state database",
    "engagement_svc_days_recounts": "Closed UTC days counted (again, after a change)",
    "engagement_svc_days_open_live": "Open-day answers counted by a query (no change stream to follow)",
    "engagement_svc_days_open_tracked": "Open-day answers taken from the change stream's running counts",
    "engagement_svc_days_sweep_counts": "Index-only counts sent by the sweep for deletions",
    "engagement_svc_days_exact_spans": "Spans off the 15-minute slots (offsets before 1980), counted directly",
    "engagement_svc_days_spans_remembered": "Spans (a local day or hour) answered from remembered sums of kept days",
    "engagement_svc_days_shared_days": "Closed UTC days another replica was counting: read from the state database",
    "engagement_svc_days_detail_dropped": (
        "Detail UTC days (a key per room and author, or per user and client) dropped from memory to stay within "
        "ENGAGEMENT_DETAIL_DAYS_MB; read back from the state database when asked"
    ),
    "engagement_svc_days_partial_days": (
        "Closed UTC days not kept, counted for one room's or one team's rooms alone by a scoped read"
    ),
    "engagement_svc_days_history_lost": "Times a change stream's saved position was older than the oplog",
    "engagement_svc_days_history_recounts": "Kept UTC days counted again because a change stream lost its history",
    "engagement_svc_work_jobs": "Counting jobs run",
    "engagement_svc_work_joined": "Times a request joined counting already queued or running",
    "engagement_svc_work_refused": "Requests answered 503 at once: their counting would outlast their deadline",
    "engagement_svc_memory_releases": (
        "Times freed memory was handed back to the system after a request left the process 64 MiB bigger"
    ),
    "engagement_svc_auth_lookups": "User lookups sent to MongoDB",
    "engagement_svc_auth_lookups_remembered": "User lookups answered from memory, kept true by the users stream",
}
GAUGES = {
    "engagement_svc_change_stream_up": "1 while every change stream is followed, else 0",
    "engagement_svc_work_queued_days": "UTC days queued for counting",
    "engagement_svc_kept_days": "UTC days of kept counts held in memory",
    "engagement_svc_kept_bytes": "Approximate memory held by kept counts",
    "engagement_svc_room_types": "Rooms in the room-type map (at most the rooms kept counts name)",
    "engagement_svc_backfill_days_counted": "Closed UTC days of the start-up backfill counted or read back so far",
    "engagement_svc_backfill_days_left": "Closed UTC days the start-up backfill has yet to count",
    "engagement_svc_backfill_seconds_left": "About how long the rest of the backfill takes at the measured rate",
}
# Per cache (label `cache`: reading, slot_indexes, answers, ...; see bounded_cache.BoundedCache).
CACHE_COUNTERS = {
    "engagement_svc_cache_hits": "Lookups a cache answered",
    "engagement_svc_cache_misses": "Lookups a cache could not answer (never kept, dropped, or made from older counts)",
    "engagement_svc_cache_evictions": "Entries a cache dropped to stay within its bound",
}
CACHE_GAUGES = {
    "engagement_svc_cache_entries": "Entries a cache holds",
    "engagement_svc_cache_weight": "What a cache holds in its bound's unit (about bytes, for most)",
}
MALFORMED_REASONS = ("bad_method", "line_too_long", "bad_header", "bad_request", "other")


class Metrics:
    def __init__(self, figures: Callable[[], Mapping[str, Any]]):
        """`figures` returns the running service's COUNTERS and GAUGES, and under `caches` each cache's stats
        by name (empty before start-up), read at scrape time."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "engagement_svc_http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "engagement_svc_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "engagement_svc_http_requests_in_flight", "HTTP requests being answered", registry=self.registry
        )
        self.rate_limited = Counter(
            "engagement_svc_rate_limited",
            "Requests refused with 429 by the rate limit (per route and client address)",
            registry=self.registry,
        )
        self.refused = Counter(
            "engagement_svc_auth_refused",
            "Requests refused for credentials (401) or permission (403)",
            ["status"],
            registry=self.registry,
        )
        self.malformed = Counter(
            "engagement_svc_http_malformed_requests",
            "Requests aiohttp's HTTP parser refused, by kind",
            ["reason"],
            registry=self.registry,
        )
        self.mongo = Histogram(
            "engagement_svc_mongodb_command_duration_seconds",
            "MongoDB command round trips, as the driver measures them",
            ["command", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_FiguresCollector(figures))
        self.listener = _CommandTimer(self.mongo)
        self.refreshed: list[Refreshed] = []

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def scrape(self) -> bytes:
        """The text of a scrape: gauges read from the database are refreshed first if due (waiting a bounded
        time: see `Refreshed.fresh`)."""
        for gauges in list(self.refreshed):
            await gauges.fresh()
        return self.render()

    def add(self, gauges: Refreshed) -> None:
        self.registry.register(gauges)
        self.refreshed.append(gauges)

    def remove(self, gauges: Refreshed) -> None:
        """Out of the scrape, its refresh in flight cancelled (the app's resources are closing)."""
        self.refreshed.remove(gauges)
        self.registry.unregister(gauges)
        gauges.close()


class _CommandTimer(monitoring.CommandListener):
    """Times every command the service's MongoDB clients send (passed to them as an event listener)."""

    def __init__(self, histogram: Histogram):
        self.histogram = histogram

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.histogram.labels(event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.histogram.labels(event.command_name, "error").observe(event.duration_micros / 1e6)


class _FiguresCollector:
    def __init__(self, figures: Callable[[], Mapping[str, Any]]):
        self.figures = figures

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: the service may not have started yet

    def collect(self) -> Iterator[Metric]:
        figures = self.figures()
        for name, text in COUNTERS.items():
            counter = CounterMetricFamily(name, text)
            counter.add_metric([], figures.get(name, 0))
            yield counter
        for name, text in GAUGES.items():
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], figures.get(name, 0))
            yield gauge
        caches = figures.get("caches", {})
        for family, names in ((CounterMetricFamily, CACHE_COUNTERS), (GaugeMetricFamily, CACHE_GAUGES)):
            for name, text in names.items():
                labelled = family(name, text, labels=["cache"])
                stat = name.removeprefix("engagement_svc_cache_")
                for cache, stats in sorted(caches.items()):
                    labelled.add_metric([cache], stats[stat])
                yield labelled


# Gauges read from the database at scrape time: what one refresh yields (family name, labels, value), and each
# family's help and label names.
Sample: TypeAlias = tuple[str, Mapping[str, str], float]
Families: TypeAlias = Mapping[str, tuple[str, tuple[str, ...]]]
# A scrape waits at most this long for a refresh, then shows the last values marked stale: well within Prometheus'
# default scrape timeout (10 s), so a slow or hung database never fails a scrape.
SCRAPE_WAIT_S = 2.0
# How old the values shown are, and whether they are as fresh as promised: name -> help.
REFRESH_GAUGES = {
    "engagement_gauges_age_seconds": "Seconds since the engagement gauges' values were read",
    "engagement_gauges_stale": (
        "1 when the last refresh of the engagement gauges failed or is overdue (the values shown are older), else 0"
    ),
    "engagement_gauges_refresh_seconds": "How long the last refresh of the engagement gauges took",
}


class Refreshed:
    """Gauges read by `read` (async) when a scrape finds them older than `every` seconds: at most one read at a
    time, however many scrapes come; a scrape waits for it at most `wait` seconds, then shows the last values
    with stale=1 while the read goes on (within `timeout`) for the next scrape. Before the first read succeeds
    the families are shown without samples."""

    def __init__(
        self,
        families: Families,
        read: Callable[[], Awaitable[Iterable[Sample]]],
        every: float,
        timeout: float,
        wait: float = SCRAPE_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.families, self.read, self.every, self.timeout = families, read, every, timeout
        self.wait, self.clock = wait, clock
        self.values: list[Sample] = []
        self.read_at: float | None = None  # when the values shown were read (the clock's time)
        self.tried_at: float | None = None  # when the last refresh started
        self.took: float | None = None  # how long the last refresh took, done or failed
        self.failed = False
        self.refreshing: asyncio.Task[None] | None = None

    def due(self) -> bool:
        return self.tried_at is None or self.clock() - self.tried_at >= self.every

    async def fresh(self) -> None:
        """Start a refresh if one is due and none is running, and wait for the running one at most `wait`."""
        if self.refreshing is None and self.due():
            self.refreshing = asyncio.ensure_future(self._refresh())
        if self.refreshing is not None:
            await asyncio.wait({self.refreshing}, timeout=self.wait)  # never cancels it: the next scrape's

    async def _refresh(self) -> None:
        start = self.tried_at = self.clock()
        try:
            async with asyncio.timeout(self.timeout):
                values = list(await self.read())
        except Exception as exc:  # noqa: BLE001 - any failure is a stale value, never a failed scrape
            if not self.failed:
                log.warning("engagement gauges not refreshed (%s); showing the last values", type(exc).__name__)
            self.failed = True
        else:
            if self.failed:
                log.info("engagement gauges refreshed again")
            self.values, self.read_at, self.failed = values, start, False
        finally:
            self.took = self.clock() - start
            self.refreshing = None

    def stale(self) -> bool:
        if self.read_at is None or self.failed or self.refreshing is not None:
            return True  # never read, the last read failed, or a due read did not finish within the wait
        return self.clock() - self.read_at > self.every + self.wait  # overdue: no scrape asked, or it hangs

    def close(self) -> None:
        if self.refreshing is not None:
            self.refreshing.cancel()

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only

    def collect(self) -> Iterator[Metric]:
        by_name: dict[str, GaugeMetricFamily] = {
            name: GaugeMetricFamily(name, text, labels=labels) for name, (text, labels) in self.families.items()
        }
        for name, labels, value in self.values:
            by_name[name].add_metric([labels[label] for label in self.families[name][1]], value)
        yield from by_name.values()
        status: dict[str, float | None] = {
            "engagement_gauges_age_seconds": None if self.read_at is None else self.clock() - self.read_at,
            "engagement_gauges_stale": 1 if self.stale() else 0,
            "engagement_gauges_refresh_seconds": self.took,
        }
        for name, text in REFRESH_GAUGES.items():
            gauge = GaugeMetricFamily(name, text)
            shown = status[name]
            if shown is not None:
                gauge.add_metric([], shown)
            yield gauge

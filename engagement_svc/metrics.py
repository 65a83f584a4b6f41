"""Prometheus metrics at /metrics: requests by route and status, MongoDB command latency, the engine's counters.

Each app has its own registry, so several apps in one process (the tests) never share or collide. Labels are
bounded: the route's pattern (never the raw path), the status code, MongoDB's command name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from pymongo import monitoring

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
    "engagement_svc_days_history_lost": "Times a change stream's saved position was older than the oplog",
    "engagement_svc_days_history_recounts": "Kept UTC days counted again because a change stream lost its history",
    "engagement_svc_work_jobs": "Counting jobs run",
    "engagement_svc_work_joined": "Times a request joined counting already queued or running",
    "engagement_svc_work_refused": "Requests answered 503 at once: their counting would outlast their deadline",
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

    def render(self) -> bytes:
        return generate_latest(self.registry)


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

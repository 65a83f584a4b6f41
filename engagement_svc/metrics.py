"""Prometheus metrics at /metrics: requests by route and status, MongoDB command latency, the engine's counters.

Each app has its own registry, so several apps in one process (the tests) never share or collide. Labels are
bounded: the route's pattern (never the raw path), the status code, MongoDB's command name.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pymongo import monitoring

# Warm answers take about a millisecond and cold ones seconds: buckets cover both.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

ENGINE_COUNTERS = {
    "closed_hits": "Closed days answered from memory",
    "closed_misses": "Closed days not in memory: read back from the state database or counted",
    "state_hits": "Closed days read back from the state database",
    "recounts": "Closed days counted again after a change",
    "open_live": "Open-day answers counted by a query (no change stream to follow)",
    "open_tracked": "Open-day answers taken from the change stream's running counts",
}


class Metrics:
    def __init__(self, engine: Callable[[], object | None]):
        """`engine` returns the running Engine (or None before start-up): its counters are read at scrape time."""
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
            "engagement_svc_rate_limited", "Requests refused with 429 by the per-user limit", registry=self.registry
        )
        self.mongo = Histogram(
            "engagement_svc_mongodb_command_duration_seconds",
            "MongoDB command round trips, as the driver measures them",
            ["command", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(engine))
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


class _EngineCollector:
    def __init__(self, engine: Callable[[], object | None]):
        self.engine = engine

    def describe(self):
        return []  # read at scrape time only: the engine may not exist yet

    def collect(self):
        engine = self.engine()
        stats = getattr(engine, "stats", None) or {}
        for key, text in ENGINE_COUNTERS.items():
            family = CounterMetricFamily(f"engagement_svc_days_{key}", text)
            family.add_metric([], stats.get(key, 0))
            yield family
        watching = GaugeMetricFamily(
            "engagement_svc_change_stream_up", "1 while the change stream on messages is followed, else 0"
        )
        watcher = getattr(engine, "watcher", None)
        watching.add_metric([], 1 if watcher is not None and watcher.healthy else 0)
        yield watching

"""/metrics: Prometheus text with requests by route and status, MongoDB command latency, engine counters; gauges
read at scrape time (metrics.Refreshed): at most once per interval, one read at a time, a bounded wait, stale values
marked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from engagement_svc.memory import resident_bytes
from engagement_svc.metrics import Metrics, Refreshed
from engagement_svc.resources import RELEASER
from tests.support.data import ADMIN_HEADERS, fill
from tests.support.http import MESSAGES_SENT_PATH, get_messages_sent, until

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}


async def scrape(client) -> dict[str, list]:
    response = await client.get("/metrics")  # no credentials needed
    assert response.status == 200 and response.content_type == "text/plain"
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples, name, **labels) -> float:
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


async def test_requests_counted_and_timed_by_route_and_status(client):
    for _ in range(3):
        assert (await get_messages_sent(client, PARAMS))[0] == 200
    assert (await get_messages_sent(client, PARAMS, {}))[0] == 401
    assert (await get_messages_sent(client, {"start": "x"}))[0] == 400
    await client.get("/no/such/path/12345")
    samples = await scrape(client)
    counted = value(samples, "engagement_svc_http_requests_total", route=MESSAGES_SENT_PATH, status="200")
    assert counted == 3
    assert value(samples, "engagement_svc_http_requests_total", route=MESSAGES_SENT_PATH, status="401") == 1
    assert value(samples, "engagement_svc_http_requests_total", route=MESSAGES_SENT_PATH, status="400") == 1
    # unknown paths share one label: a scanner cannot blow up the series count
    assert value(samples, "engagement_svc_http_requests_total", route="unmatched", status="404") == 1
    assert not any("/no/such" in str(lab) for series in samples.values() for lab, _ in series)
    assert (
        value(samples, "engagement_svc_http_request_duration_seconds_count", route=MESSAGES_SENT_PATH, status="200")
        == 3
    )
    assert (
        value(
            samples,
            "engagement_svc_http_request_duration_seconds_bucket",
            route=MESSAGES_SENT_PATH,
            status="200",
            le="+Inf",
        )
        == 3
    )
    assert value(samples, "engagement_svc_http_requests_in_flight") == 1  # the scrape itself


async def test_mongodb_commands_and_engine_counters(make_client, users, db):
    client = await make_client(gauges_seconds=0)  # the engagement gauges' reads would count days too
    fill(db, datetime(2023, 12, 1, tzinfo=UTC), 60, 5)
    await get_messages_sent(client, PARAMS)
    before = await scrape(client)
    assert (
        value(before, "engagement_svc_mongodb_command_duration_seconds_count", command="aggregate", outcome="ok") >= 1
    )
    assert value(before, "engagement_svc_mongodb_command_duration_seconds_count", command="find", outcome="ok") >= 1
    misses = value(before, "engagement_svc_days_closed_misses_total")
    assert misses == 14  # the 7 UTC days asked and the 7 before them, none known yet
    await get_messages_sent(client, PARAMS)
    after = await scrape(client)
    assert value(after, "engagement_svc_days_closed_misses_total") == misses
    # The same 14 days again (all closed): the answer remembered whole, nothing counted again.
    hits = "engagement_svc_cache_hits_total"
    assert value(after, hits, cache="answers") - value(before, hits, cache="answers") == 1
    assert value(after, "engagement_svc_days_recounts_total") == value(before, "engagement_svc_days_recounts_total")
    assert "engagement_svc_change_stream_up" in after


async def test_every_cache_reports_its_hits_misses_and_size(client, db):
    """Distinct users by hour fill the reading cache and the slot indexes; asked again, they are hits."""
    fill(db, datetime(2023, 12, 1, tzinfo=UTC), 60, 5)
    path = "/api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week"
    params = {**PARAMS, "timezone": "Asia/Kolkata"}
    assert (await client.get(path, params=params, headers=ADMIN_HEADERS)).status == 200
    before = await scrape(client)
    names = {"reading", "slot_indexes", "answers", "day_spans", "hour_spans", "day_entries", "iso_dates"}
    assert {lab["cache"] for lab, _ in before["engagement_svc_cache_hits_total"]} == names
    for name in ("engagement_svc_cache_entries", "engagement_svc_cache_weight", "engagement_svc_cache_misses_total"):
        assert len(before[name]) == len(names)
    assert value(before, "engagement_svc_cache_entries", cache="hour_spans") == 1
    assert (await client.get(path, params=params, headers=ADMIN_HEADERS)).status == 200
    after = await scrape(client)
    hits = sum(value(after, "engagement_svc_cache_hits_total", cache=c) for c in ("reading", "answers"))
    assert hits > sum(value(before, "engagement_svc_cache_hits_total", cache=c) for c in ("reading", "answers"))
    assert value(after, "engagement_svc_cache_weight", cache="reading") > 0


# -- gauges read at scrape time --------------------------------------------------------------------------------------
FAMILY = {"engagement_messages_sent": ("Messages sent today", ("bots",))}


class Reader:
    """A read whose result the test sets, counting its calls; it can be held (a hung database) or fail."""

    def __init__(self):
        self.calls = 0
        self.value = 1.0
        self.release = asyncio.Event()
        self.release.set()
        self.error: Exception | None = None

    async def __call__(self):
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return [("engagement_messages_sent", {"bots": "include"}, self.value)]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refreshed(reader, clock, wait=2.0, timeout=10.0):
    metrics = Metrics(dict)
    metrics.add(Refreshed(FAMILY, reader, every=30, timeout=timeout, wait=wait, clock=clock))
    return metrics


async def scraped(metrics: Metrics) -> dict:
    out = {}
    for family in text_string_to_metric_families((await metrics.scrape()).decode()):
        for sample in family.samples:
            out[sample.name] = sample.value
    return out


async def test_read_at_most_once_per_interval_and_once_for_concurrent_scrapes():
    reader, clock = Reader(), Clock()
    metrics = refreshed(reader, clock)
    reader.release.clear()
    first, second = asyncio.ensure_future(scraped(metrics)), asyncio.ensure_future(scraped(metrics))
    await until(lambda: reader.calls == 1)
    reader.release.set()
    shown = await asyncio.gather(first, second)
    assert reader.calls == 1  # two scrapes at once: one read
    assert [s["engagement_messages_sent"] for s in shown] == [1.0, 1.0]
    assert all(s["engagement_gauges_stale"] == 0 for s in shown)
    clock.now += 29
    reader.value = 2.0
    assert (await scraped(metrics))["engagement_messages_sent"] == 1.0  # not due: the last values
    assert reader.calls == 1
    clock.now += 1
    assert (await scraped(metrics))["engagement_messages_sent"] == 2.0
    assert reader.calls == 2


async def test_a_read_past_the_wait_shows_the_last_values_stale_and_lands_for_the_next_scrape():
    reader, clock = Reader(), Clock()
    metrics = refreshed(reader, clock, wait=0.05)
    assert (await scraped(metrics))["engagement_messages_sent"] == 1.0
    clock.now += 40
    reader.release.clear()
    reader.value = 3.0
    held = await scraped(metrics)  # answered while the read is held
    assert held["engagement_messages_sent"] == 1.0 and held["engagement_gauges_stale"] == 1
    assert held["engagement_gauges_age_seconds"] == 40
    assert (await scraped(metrics))["engagement_gauges_stale"] == 1
    assert reader.calls == 1 + 1  # the held read is waited for again, not started anew
    reader.release.set()
    assert await until(lambda: scraped_value(metrics, "engagement_messages_sent", 3.0))
    shown = await scraped(metrics)
    assert shown["engagement_gauges_stale"] == 0 and shown["engagement_gauges_age_seconds"] == 0


async def scraped_value(metrics, name, wanted) -> bool:
    return (await scraped(metrics)).get(name) == wanted


async def test_a_failed_or_timed_out_read_keeps_the_last_values_stale_until_one_succeeds():
    reader, clock = Reader(), Clock()
    metrics = refreshed(reader, clock, wait=5.0, timeout=0.05)
    assert (await scraped(metrics))["engagement_gauges_stale"] == 0
    clock.now += 30
    reader.error = ConnectionError("database down")
    reader.value = 4.0
    failed = await scraped(metrics)
    assert failed["engagement_messages_sent"] == 1.0 and failed["engagement_gauges_stale"] == 1
    clock.now += 30
    reader.error = None
    reader.release.clear()  # hangs: cut at the read's timeout, long before the scrape's wait
    timed_out = await scraped(metrics)
    assert timed_out["engagement_messages_sent"] == 1.0 and timed_out["engagement_gauges_stale"] == 1
    assert timed_out["engagement_gauges_age_seconds"] == 60
    clock.now += 30
    reader.release.set()
    back = await scraped(metrics)
    assert back["engagement_messages_sent"] == 4.0 and back["engagement_gauges_stale"] == 0
    assert reader.calls == 4


async def test_before_the_first_read_the_families_have_no_samples_and_are_stale():
    reader, clock = Reader(), Clock()
    reader.error = ConnectionError("database down")
    metrics = refreshed(reader, clock)
    text = (await metrics.scrape()).decode()
    assert "# TYPE engagement_messages_sent gauge" in text
    shown = await scraped(metrics)
    assert "engagement_messages_sent" not in shown and "engagement_gauges_age_seconds" not in shown
    assert shown["engagement_gauges_stale"] == 1


async def test_overdue_values_are_stale_even_without_a_scrape_to_refresh_them():
    reader, clock = Reader(), Clock()
    metrics = refreshed(reader, clock)
    await metrics.scrape()
    clock.now += 33
    assert metrics.registry.get_sample_value("engagement_gauges_stale") == 1  # rendered without a refresh


async def test_a_request_after_a_peak_hands_memory_back_and_says_so(client):
    """The service runs in this process: a peak left in its heap (4 KiB blocks, one in 64 kept) is what a year's
    keys read by a request leave; the next request's end releases it."""
    assert (await get_messages_sent(client, PARAMS))[0] == 200
    releaser = client.app[RELEASER]
    await releaser.stop()  # whatever the first request started, done
    before = value(await scrape(client), "engagement_svc_memory_releases_total")
    grown = resident_bytes()
    survivors = [bytes(4096) for _ in range(256 * 2**20 // 4096)][::64]
    assert (await get_messages_sent(client, PARAMS))[0] == 200
    await releaser.stop()  # the release the request's end started
    assert value(await scrape(client), "engagement_svc_memory_releases_total") == before + 1
    released = resident_bytes()
    assert grown is not None and released is not None and released < grown + 128 * 2**20
    del survivors

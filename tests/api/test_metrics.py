"""/metrics: Prometheus text with requests by route and status, MongoDB command latency, engine counters."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from tests.support.data import ADMIN_HEADERS, fill
from tests.support.http import MESSAGES_SENT_PATH, get_messages_sent

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


async def test_mongodb_commands_and_engine_counters(client, db):
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
    # The same 14 days again: answered from the sums kept in memory, nothing counted again.
    remembered = "engagement_svc_days_spans_remembered_total"
    assert value(after, remembered) - value(before, remembered) == 14
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

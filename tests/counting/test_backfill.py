"""The start-up backfill: recent closed days counted in the background without delaying readiness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engagement_svc.counting.catalog import MESSAGES, POSTS
from engagement_svc.counting.store import COUNTS_COLLECTION
from engagement_svc.resources import ENGINE
from tests.support.data import fill
from tests.support.http import answers_brute_force, recent_params, until

MESSAGES_KEY = f"{MESSAGES.name}.v{MESSAGES.version}"


async def test_startup_warms_recent_days_without_delaying_readiness(make_client, users, db, sync_client, settings):
    fill(db, datetime.now(UTC) - timedelta(days=20), 20, 50)
    client = await make_client(warm_days=15)
    engine = client.server.app[ENGINE]
    state = sync_client[settings.state_database][COUNTS_COLLECTION]
    assert await until(lambda: state.count_documents({"metric": MESSAGES_KEY}) >= 15)
    assert await until(engine.backfill_done)
    # The metrics only the service's own endpoints read (messages per room and author) wait to be asked.
    assert state.count_documents({"metric": f"{POSTS.name}.v{POSTS.version}"}) == 0 and not engine.closed.of(POSTS)
    recounted = engine.stats["recounts"]
    params = recent_params(days=7)
    assert await answers_brute_force(client, db, params)
    # The closed days asked were warmed: answered from kept counts (running sums), at most one counted late.
    assert engine.stats["spans_remembered"] + engine.stats["closed_hits"] >= 6 and engine.stats["closed_misses"] <= 1
    assert engine.stats["recounts"] - recounted <= 1  # at most a day that closed meanwhile

"""Rocket.Chat's per-user API rate limit: its headers, its 429 body, its bypass permission, its window."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from engagement_svc.demo.dataset import login_token, user_doc
from engagement_svc.rocketchat.ratelimit import RateLimiter
from tests.support.data import ADMIN_HEADERS
from tests.support.http import get_messages_sent

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
ANALYST = {"X-User-Id": "AnalystUser000001", "X-Auth-Token": "analyst-token"}
OTHER = {"X-User-Id": "AnalystUser000002", "X-Auth-Token": "analyst-token-2"}


def too_many(seconds: int) -> dict:
    return {
        "success": False,
        "error": f"Error, too many requests. Please slow down. You must wait {seconds} seconds "
        "before trying this endpoint again. [error-too-many-requests]",
    }


def add_analysts(db):
    """Users who may see the dashboard through a role of their own, without the admin's bypass."""
    now = datetime.now(UTC)
    for headers, name in ((ANALYST, "analyst"), (OTHER, "analyst2")):
        db.users.insert_one(
            user_doc(headers["X-User-Id"], name, ["user", "analyst"], [login_token(headers["X-Auth-Token"], now)])
        )
    db.rocketchat_permissions.update_one({"_id": "view-engagement-dashboard"}, {"$push": {"roles": "analyst"}})


async def get(client, headers, params=PARAMS):
    response = await client.get("/api/v1/engagement-dashboard/messages/messages-sent", params=params, headers=headers)
    return response, await response.json()


async def test_limit_headers_then_429_with_rocket_chats_body(make_client, db, users):
    add_analysts(db)
    client = await make_client(rate_limit_calls=3, rate_limit_seconds=5)
    began_ms = time.time() * 1000
    for remaining in (2, 1, 0):
        response, body = await get(client, ANALYST)
        assert response.status == 200 and body["success"] is True
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        reset = int(response.headers["X-RateLimit-Reset"])  # UTC epoch milliseconds, as in Rocket.Chat
        assert began_ms + 4000 < reset <= time.time() * 1000 + 5000
    response, body = await get(client, ANALYST)
    assert response.status == 429 and body == too_many(5)
    assert response.headers["X-RateLimit-Remaining"] == "0" and response.headers["X-RateLimit-Limit"] == "3"
    assert int(response.headers["X-RateLimit-Reset"]) == reset  # the same window
    # Another user has a window of their own; bad parameters still count (the limit comes before them).
    response, _ = await get(client, OTHER, {"start": "nope"})
    assert response.status == 400 and response.headers["X-RateLimit-Remaining"] == "2"
    metrics = await (await client.get("/metrics")).text()
    assert "engagement_svc_rate_limited_total 1.0" in metrics


async def test_window_ends_and_calls_are_admitted_again(make_client, db, users):
    add_analysts(db)
    client = await make_client(rate_limit_calls=1, rate_limit_seconds=1)
    assert (await get(client, ANALYST))[0].status == 200
    response, body = await get(client, ANALYST)
    assert response.status == 429 and body == too_many(1)
    await asyncio.sleep(1.1)
    response, _ = await get(client, ANALYST)
    assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "0"


async def test_bypass_permission_exempts_and_follows_the_database(make_client, db, users):
    client = await make_client(rate_limit_calls=1, rate_limit_seconds=60)
    for _ in range(3):  # the admin holds api-bypass-rate-limit, as in Rocket.Chat's defaults
        status, _ = await get_messages_sent(client, PARAMS, ADMIN_HEADERS)
        assert status == 200
    response, _ = await get(client, ADMIN_HEADERS)
    assert "X-RateLimit-Limit" not in response.headers
    db.rocketchat_permissions.update_one({"_id": "api-bypass-rate-limit"}, {"$pull": {"roles": "admin"}})
    await asyncio.sleep(1.1)  # the permission documents are re-read at most once a second
    statuses = [(await get(client, ADMIN_HEADERS))[0].status for _ in range(2)]
    assert statuses == [200, 429]


async def test_failed_authentication_does_not_spend_a_users_calls(make_client, db, users):
    """Only an authenticated user's calls count: nobody can use up another user's calls by naming them."""
    add_analysts(db)
    client = await make_client(rate_limit_calls=2, rate_limit_seconds=60)
    for _ in range(5):
        assert (await get(client, {"X-User-Id": ANALYST["X-User-Id"], "X-Auth-Token": "guess"}))[0].status == 401
    response, _ = await get(client, ANALYST)
    assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "1"


async def test_zero_calls_turns_the_limit_off(make_client, db, users):
    add_analysts(db)
    client = await make_client(rate_limit_calls=0)
    for _ in range(15):
        response, _ = await get(client, ANALYST)
        assert response.status == 200 and "X-RateLimit-Limit" not in response.headers


def test_windows_are_forgotten_once_ended():
    now = [100.0]
    limiter = RateLimiter(2, 10, clock=lambda: now[0], wall=lambda: 1_000_000.0 + now[0])
    for i in range(1000):
        assert limiter.hit(f"user{i}").allowed
    assert len(limiter._windows) == 1000
    now[0] += 10.5
    verdict = limiter.hit("late")
    assert len(limiter._windows) == 1 and verdict.allowed and verdict.remaining == 1
    assert verdict.reset_epoch_ms == int((1_000_000.0 + now[0] + 10) * 1000)
    now[0] += 9.2
    limiter.hit("late")
    verdict = limiter.hit("late")
    assert not verdict.allowed and verdict.wait_seconds == 1 and verdict.remaining == 0

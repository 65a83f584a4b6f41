"""Rocket.Chat's API rate limit: one budget per route, method and client address; its headers, its 429 body, its
bypass permission, its window; its settings in rocketchat_settings followed live, the service's as the fallback."""

from __future__ import annotations

import time
from dataclasses import replace

from engagement_svc.app import create_app
from engagement_svc.resources import RATE_LIMITER
from engagement_svc.rocketchat.ratelimit import RateLimiter
from tests.support.data import ADMIN_HEADERS, ANALYST, add_analysts
from tests.support.http import MESSAGES_SENT_PATH, ORIGIN_PATH, get_messages_sent, until

PARAMS = {"start": "2024-01-01T00:00:00.000Z", "end": "2024-01-07T00:00:00.000Z"}
OTHER = {"X-User-Id": "AnalystUser000002", "X-Auth-Token": "analyst-token-2"}
ANALYSTS = ((ANALYST, "analyst"), (OTHER, "analyst2"))


def too_many(seconds: int) -> dict:
    return {
        "success": False,
        "error": f"Error, too many requests. Please slow down. You must wait {seconds} seconds "
        "before trying this endpoint again. [error-too-many-requests]",
    }


async def get(client, headers, params=PARAMS):
    response = await client.get(MESSAGES_SENT_PATH, params=params, headers=headers)
    return response, await response.json()


async def limited_client(aiohttp_client, settings, calls: int, seconds: float, clock: list[float]):
    """The service with this limit, its limiter on the test's clock (`clock[0]`, seconds; the wall clock is the
    same plus an epoch), so that a window's end is a step of the test, not a wait."""
    app = create_app(replace(settings, rate_limit_calls=calls, rate_limit_seconds=seconds))
    app[RATE_LIMITER] = RateLimiter(clock=lambda: clock[0], wall=lambda: WALL_EPOCH + clock[0])
    return await aiohttp_client(app)


WALL_EPOCH = 1_717_000_000.0


async def test_limit_headers_then_429_with_rocket_chats_body(aiohttp_client, settings, db, users):
    add_analysts(db, *ANALYSTS)
    clock = [100.0]
    client = await limited_client(aiohttp_client, settings, 3, 60, clock)
    reset = int((WALL_EPOCH + 100.0 + 60) * 1000)  # UTC epoch milliseconds, as in Rocket.Chat
    for remaining in (2, 1, 0):
        response, body = await get(client, ANALYST)
        assert response.status == 200 and body["success"] is True
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert int(response.headers["X-RateLimit-Reset"]) == reset
        clock[0] += 0.4
    clock[0] = 100.0 + 12.3  # 47.7 s of the window left: the wait is said in whole seconds, rounded up
    response, body = await get(client, ANALYST)
    assert response.status == 429 and body == too_many(48) and response.headers["Retry-After"] == "48"
    assert response.headers["X-RateLimit-Remaining"] == "0" and response.headers["X-RateLimit-Limit"] == "3"
    assert int(response.headers["X-RateLimit-Reset"]) == reset  # the same window
    assert response.headers["Cache-Control"] == "no-store"
    # The budget is the client address's, not the user's: another user from the same address finds it spent.
    assert (await get(client, OTHER))[0].status == 429
    # Another route has a budget of its own; bad parameters still count (the limit comes before them).
    response = await client.get(ORIGIN_PATH, params={"start": "nope"}, headers=OTHER)
    assert response.status == 400 and response.headers["X-RateLimit-Remaining"] == "2"
    metrics = await (await client.get("/metrics")).text()
    assert "engagement_svc_rate_limited_total 2.0" in metrics


async def test_window_ends_and_calls_are_admitted_again(aiohttp_client, settings, db, users):
    add_analysts(db, *ANALYSTS)
    clock = [100.0]
    client = await limited_client(aiohttp_client, settings, 1, 1, clock)
    assert (await get(client, ANALYST))[0].status == 200
    clock[0] += 0.999
    response, body = await get(client, ANALYST)
    assert response.status == 429 and body == too_many(1)
    clock[0] = 101.0  # the window's second is over
    response, _ = await get(client, ANALYST)
    assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) == int((WALL_EPOCH + 102.0) * 1000)  # a new window


async def test_bypass_permission_exempts_and_follows_the_database(make_client, db, users):
    client = await make_client(rate_limit_calls=1, rate_limit_seconds=60)
    for _ in range(3):  # the admin holds api-bypass-rate-limit, as in Rocket.Chat's defaults
        status, _ = await get_messages_sent(client, PARAMS, ADMIN_HEADERS)
        assert status == 200
    response, _ = await get(client, ADMIN_HEADERS)
    assert "X-RateLimit-Limit" not in response.headers
    db.rocketchat_permissions.update_one({"_id": "api-bypass-rate-limit"}, {"$pull": {"roles": "admin"}})

    async def limited():  # the permission documents are read again within about a second; calls bypass until then
        response, _ = await get(client, ADMIN_HEADERS)
        return response.headers.get("X-RateLimit-Remaining")

    assert await until(limited, seconds=10) == "0"  # the first limited call: the budget's one call
    assert (await get(client, ADMIN_HEADERS))[0].status == 429


async def test_failed_authentication_does_not_spend_a_users_calls(make_client, db, users):
    """Only an authenticated user's calls count: nobody can use up another user's calls by naming them."""
    add_analysts(db, *ANALYSTS)
    client = await make_client(rate_limit_calls=2, rate_limit_seconds=60)
    for _ in range(5):
        assert (await get(client, {"X-User-Id": ANALYST["X-User-Id"], "X-Auth-Token": "guess"}))[0].status == 401
    response, _ = await get(client, ANALYST)
    assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "1"


async def test_zero_calls_turns_the_limit_off(make_client, db, users):
    add_analysts(db, *ANALYSTS)
    client = await make_client(rate_limit_calls=0)
    for _ in range(15):
        response, _ = await get(client, ANALYST)
        assert response.status == 200 and "X-RateLimit-Limit" not in response.headers


def test_windows_are_forgotten_once_ended():
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0], wall=lambda: 1_000_000.0 + now[0])
    for i in range(1000):
        assert limiter.hit("/r", "GET", f"10.0.{i // 250}.{i % 250}", 2, 10).allowed
    assert len(limiter) == 1000
    now[0] += 10.5
    verdict = limiter.hit("/r", "GET", "late", 2, 10)
    assert len(limiter) == 1 and verdict.allowed and verdict.remaining == 1
    assert verdict.reset_epoch_ms == int((1_000_000.0 + now[0] + 10) * 1000)
    now[0] += 9.2
    limiter.hit("/r", "GET", "late", 2, 10)
    verdict = limiter.hit("/r", "GET", "late", 2, 10)
    assert not verdict.allowed and verdict.wait_seconds == 1 and verdict.remaining == 0


def test_route_method_and_address_each_have_a_budget():
    limiter = RateLimiter(clock=lambda: 5.0, wall=lambda: 0.0)
    assert limiter.hit("/a", "GET", "10.0.0.1", 1, 60).allowed
    assert not limiter.hit("/a", "GET", "10.0.0.1", 1, 60).allowed
    for key in (("/b", "GET", "10.0.0.1"), ("/a", "HEAD", "10.0.0.1"), ("/a", "GET", "10.0.0.2")):
        assert limiter.hit(*key, 1, 60).allowed, key


def test_a_flood_of_addresses_is_bounded_oldest_first():
    limiter = RateLimiter(clock=lambda: 5.0, wall=lambda: 0.0, max_windows=100)
    for i in range(1000):
        limiter.hit("/a", "GET", f"addr{i}", 1, 60)
        assert len(limiter) <= 100
    assert not limiter.hit("/a", "GET", "addr999", 1, 60).allowed  # the newest window is kept
    assert limiter.hit("/a", "GET", "addr0", 1, 60).allowed  # the oldest went first


async def test_the_limit_follows_rocket_chats_settings_live(aiohttp_client, settings, db, users):
    """API_Enable_Rate_Limiter_Limit_Calls_Default and _Time_Default win over the service's own settings, and a
    change applies within seconds; API_Enable_Rate_Limiter false turns the limit off, true back on."""
    add_analysts(db, *ANALYSTS)
    clock = [100.0]
    client = await limited_client(aiohttp_client, settings, 50, 60, clock)
    response, _ = await get(client, ANALYST)
    assert response.headers["X-RateLimit-Limit"] == "50"
    db.rocketchat_settings.insert_many(
        [
            {"_id": "API_Enable_Rate_Limiter", "value": True, "type": "boolean"},
            {"_id": "API_Enable_Rate_Limiter_Limit_Calls_Default", "value": 4, "type": "int"},
            {"_id": "API_Enable_Rate_Limiter_Limit_Time_Default", "value": 30_000, "type": "int"},
        ]
    )
    changed = time.monotonic()

    async def limit_is(calls):
        response, _ = await get(client, ANALYST, {"start": "x"})  # a 400: counts, and costs no counting
        return response.headers.get("X-RateLimit-Limit") == calls

    assert await until(lambda: limit_is("4"), seconds=10)
    print(f"the limit followed Rocket.Chat's setting after {time.monotonic() - changed:.2f} s")
    # A window begun under the new settings lasts API_Enable_Rate_Limiter_Limit_Time_Default (30 s).
    clock[0] = 200.0
    response = await client.get(ORIGIN_PATH, params=PARAMS, headers=ANALYST)
    assert int(response.headers["X-RateLimit-Reset"]) == int((WALL_EPOCH + 200.0 + 30) * 1000)
    db.rocketchat_settings.update_one({"_id": "API_Enable_Rate_Limiter"}, {"$set": {"value": False}})

    async def unlimited():
        response, _ = await get(client, ANALYST)
        return response.status == 200 and "X-RateLimit-Limit" not in response.headers

    assert await until(unlimited, seconds=10)
    db.rocketchat_settings.update_one({"_id": "API_Enable_Rate_Limiter"}, {"$set": {"value": True}})
    db.rocketchat_settings.delete_one({"_id": "API_Enable_Rate_Limiter_Limit_Calls_Default"})
    assert await until(lambda: limit_is("50"), seconds=10)  # absent: the service's own again


async def test_rocket_chats_setting_turns_on_a_limit_the_service_left_off(make_client, db, users):
    add_analysts(db, *ANALYSTS)
    db.rocketchat_settings.insert_one({"_id": "API_Enable_Rate_Limiter", "value": True, "type": "boolean"})
    client = await make_client(rate_limit_calls=0)
    response, _ = await get(client, ANALYST)
    assert response.headers["X-RateLimit-Limit"] == "10"  # Rocket.Chat's default count


async def test_behind_a_trusted_proxy_each_forwarded_address_has_a_budget(make_client, db, users):
    add_analysts(db, *ANALYSTS)
    client = await make_client(rate_limit_calls=1, rate_limit_seconds=60, trusted_proxies="127.0.0.0/8, ::1")
    first = {**ANALYST, "X-Forwarded-For": "203.0.113.5"}
    assert (await get(client, first))[0].status == 200
    assert (await get(client, first))[0].status == 429
    # the client's own claim left of the proxy's entry changes nothing
    assert (await get(client, {**ANALYST, "X-Forwarded-For": "198.51.100.1, 203.0.113.5"}))[0].status == 429
    assert (await get(client, {**ANALYST, "X-Forwarded-For": "203.0.113.6"}))[0].status == 200


async def test_an_untrusted_peers_forwarded_for_is_ignored(make_client, db, users):
    add_analysts(db, *ANALYSTS)
    client = await make_client(rate_limit_calls=1, rate_limit_seconds=60)
    assert (await get(client, {**ANALYST, "X-Forwarded-For": "203.0.113.5"}))[0].status == 200
    assert (await get(client, {**ANALYST, "X-Forwarded-For": "203.0.113.6"}))[0].status == 429

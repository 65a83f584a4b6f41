"""A real Prometheus (Debian's binary, on a loopback port, its data in a temporary folder) scrapes the service run
as operators run it, with docker/prometheus/rules.yml loaded: a query through Prometheus's HTTP API gives the
numbers the API gave (the requests answered; today's messages, by the engagement gauge), and every alert rule
evaluates without error on the real series."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp

from tests.support.data import ADMIN_HEADERS, AUTHOR
from tests.support.http import MESSAGES_SENT_PATH, until
from tests.support.live import LiveServer
from tests.support.mongo import with_database
from tests.support.oracle import js
from tests.support.prometheus import PROMETHEUS_DIR, LivePrometheus, rule_expressions
from tests.support.rocketchat import message_doc, room_doc

MESSAGES_TODAY = 7


def value(result: list[dict]) -> float | None:
    """The one sample of an instant query's vector (None while there is none)."""
    return float(result[0]["value"][1]) if len(result) == 1 else None


async def test_prometheus_scrapes_the_service_and_answers_the_apis_numbers(mongo_url, db, users):
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    db.rocketchat_room.insert_one(room_doc("C1", "c", "general"))
    db.rocketchat_message.insert_many(
        [
            message_doc(f"m{i}", "C1", max(midnight, now - timedelta(seconds=60 - i)), AUTHOR)
            for i in range(MESSAGES_TODAY)
        ]
    )
    with LiveServer(
        with_database(mongo_url, db.name),
        ENGAGEMENT_STATE_MONGO_URL=with_database(mongo_url, db.name + "_state"),
        ENGAGEMENT_WARM_DAYS="0",
        ENGAGEMENT_TIMEZONE="UTC",
    ) as server:
        today = {"start": js(now), "end": js(now), "timezone": "UTC"}
        async with aiohttp.ClientSession(server.base_url, headers=ADMIN_HEADERS) as session:
            answers = []
            for _ in range(3):
                async with session.get(MESSAGES_SENT_PATH, params=today) as response:
                    assert response.status == 200
                    answers.append(await response.json())
        (day,) = answers[0]["days"]
        assert day["messages"] == MESSAGES_TODAY  # what the gauge must show

        with LivePrometheus([f"127.0.0.1:{server.port}"], [PROMETHEUS_DIR / "rules.yml"]) as prometheus:

            async def ask(expr: str) -> float | None:
                return value(await asyncio.to_thread(prometheus.query, expr))

            target = f'{{job="engagement-svc", instance="127.0.0.1:{server.port}"}}'
            assert await until(lambda: ask(f"up{target}"), seconds=60) == 1
            # The API's answers, as Prometheus has them: the three 200s of messages-sent.
            requests = f'engagement_svc_http_requests_total{{route="{MESSAGES_SENT_PATH}", method="GET", status="200"}}'
            assert await until(lambda: _is(ask(requests), 3), seconds=60)
            assert await ask("engagement_svc_change_stream_up") == 1
            # The engagement gauges: today's messages as the API counted them.
            for bots in ("include", "exclude"):
                sent = f'engagement_messages_sent{{bots="{bots}"}}'
                assert await until(lambda sent=sent: _is(ask(sent), MESSAGES_TODAY), seconds=60), bots
            # The rules loaded and evaluated on the real series without an error.
            groups = await until(lambda: _evaluated(prometheus), seconds=60)
            rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
            assert set(rules) == set(rule_expressions())
            assert {name: rule["health"] for name, rule in rules.items()} == dict.fromkeys(rules, "ok")
            firing = [name for name, rule in rules.items() if rule["state"] == "firing"]
            assert firing == []
        assert server.terminate() == 0


async def _is(answer, expected: float) -> bool:
    return await answer == expected


async def _evaluated(prometheus: LivePrometheus) -> list[dict] | None:
    """The rule groups, once every rule has been evaluated (a rule not yet evaluated shows year 1)."""
    groups = await asyncio.to_thread(prometheus.rule_groups)
    rules = [rule for group in groups for rule in group["rules"]]
    return groups if rules and not any(rule["lastEvaluation"].startswith("0001-") for rule in rules) else None

"""Posting to a webhook served by a local aiohttp server: retries on 500 then succeeds, gives up after the bounded
attempts, does not retry what would fail again, and never logs the token."""

from __future__ import annotations

import logging

import pytest

from engagement_svc.digest.webhook import post, redacted
from tests.support.live import free_port
from tests.support.webhook import HOOK_PATH, HOOK_TOKEN, Receiver

TOKEN = HOOK_TOKEN
PATH = HOOK_PATH
MESSAGE = {"text": "hello", "attachments": []}


@pytest.fixture
async def receiver(aiohttp_server):
    return await Receiver().start(aiohttp_server)


def no_secret(caplog) -> None:
    assert TOKEN not in caplog.text and "Traceback" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)


async def test_retries_on_500_then_succeeds(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [500, 502]
    delivery = await post(receiver.url, MESSAGE, attempts=5, first_wait_s=0.01)
    assert (delivery.ok, delivery.attempts) == (True, 3)
    assert receiver.received == [MESSAGE] * 3
    assert "65f0a1b2c3d4e5f6a7b8c9d0/***" in caplog.text
    no_secret(caplog)


async def test_gives_up_after_the_bounded_attempts(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [500] * 10
    delivery = await post(receiver.url, MESSAGE, attempts=3, first_wait_s=0.01)
    assert (delivery.ok, delivery.attempts, delivery.problem) == (False, 3, "HTTP 500")
    assert len(receiver.received) == 3
    assert "giving up" in caplog.text
    no_secret(caplog)


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_a_refusal_is_not_tried_again(receiver, caplog, status):
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [status]
    delivery = await post(receiver.url, MESSAGE, attempts=5, first_wait_s=0.01)
    assert (delivery.ok, delivery.attempts, delivery.problem) == (False, 1, f"HTTP {status}")
    no_secret(caplog)


async def test_429_is_tried_again(receiver):
    receiver.statuses = [429]
    assert (await post(receiver.url, MESSAGE, attempts=2, first_wait_s=0.01)).ok


async def test_nobody_listening(caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}{PATH}"
    delivery = await post(url, MESSAGE, attempts=2, first_wait_s=0.01)
    assert (delivery.ok, delivery.attempts) == (False, 2)
    assert delivery.problem and TOKEN not in delivery.problem
    no_secret(caplog)


@pytest.mark.parametrize(
    "url, shown",
    [
        (f"https://chat.example{PATH}", "https://chat.example/hooks/65f0a1b2c3d4e5f6a7b8c9d0/***"),
        (
            f"https://u:pw@chat.example:8443/rc{PATH}?x=1#y",
            "https://chat.example:8443/rc/hooks/65f0a1b2c3d4e5f6a7b8c9d0/***",
        ),
        (f"http://chat.example/other/{TOKEN}", "http://chat.example/***"),
        ("https://chat.example/hooks/", "https://chat.example/***"),
        ("http://[::1", "(an invalid URL)"),
    ],
)
def test_redacted(url, shown):
    assert redacted(url) == shown

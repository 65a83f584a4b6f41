"""Posting to a Rocket.Chat incoming webhook: a bounded number of attempts with growing waits between them, and
logs that never hold the URL's secret part (a webhook URL is `/hooks/<id>/<token>`: the token is its password)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

log = logging.getLogger("engagement_svc.digest")

ATTEMPTS = 5
FIRST_WAIT_S = 1.0  # then 2, 4, 8 s: about 15 s in all before giving up
ATTEMPT_TIMEOUT_S = 15.0
MAX_ANSWER_BYTES = 65_536  # of the receiver's answer, read before the connection is let go: only its status counts


def redacted(url: str) -> str:
    """`scheme://host[:port][/prefix]/hooks/<id>/***`: the token and anything after it, the query, the fragment and
    any user and password left out; a URL of another form keeps only its scheme and host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    where = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    segments = parts.path.split("/")
    if "hooks" in segments:
        i = segments.index("hooks")
        if len(segments) > i + 1 and segments[i + 1]:
            return f"{where}{'/'.join(segments[: i + 2])}/***"
    return f"{where}/***"


@dataclass(frozen=True)
class Delivery:
    """How posting went: `ok`, the attempts made, and the last failure in words (no URL, no token)."""

    ok: bool
    attempts: int
    problem: str = ""


def _retryable(status: int) -> bool:
    """The server's trouble (5xx), or too many requests: worth another try. Any other 4xx (a wrong or deleted
    webhook, a message refused) would fail again the same way."""
    return status >= 500 or status in (408, 429)


async def post(
    url: str, message: dict[str, Any], attempts: int = ATTEMPTS, first_wait_s: float = FIRST_WAIT_S
) -> Delivery:
    where = redacted(url)
    problem = ""
    timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(1, attempts + 1):
            retry = True
            try:
                async with session.post(url, json=message, allow_redirects=False) as response:
                    await response.content.read(MAX_ANSWER_BYTES)  # what a hostile receiver sends is bounded
                    if response.status < 300:
                        log.info("digest posted to %s (attempt %d)", where, attempt)
                        return Delivery(True, attempt)
                    problem = f"HTTP {response.status}"
                    retry = _retryable(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The type only: an aiohttp error's text can hold the URL.
                problem = "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__
            if not retry or attempt == attempts:
                log.warning(
                    "digest not posted to %s: %s (attempt %d of %d); giving up", where, problem, attempt, attempts
                )
                return Delivery(False, attempt, problem)
            wait = first_wait_s * 2 ** (attempt - 1)
            log.warning("digest not posted to %s: %s (attempt %d of %d); again in %g s", where, problem, attempt,
                        attempts, wait)  # fmt: skip
            await asyncio.sleep(wait)
    return Delivery(False, attempts, problem)

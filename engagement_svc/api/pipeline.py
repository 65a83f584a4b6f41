"""The one endpoint pipeline: deadline -> database known down (503) -> 401 -> 403 -> 429 -> 400 -> answer -> 503,
written once.

A report (reports/report.py) declares its path, how its query is parsed and how it is answered; `handler` turns it
into an aiohttp handler that applies Rocket.Chat's order of checks and the service's error shapes. (CORS, which
Rocket.Chat also applies before a route, is api/cors.py's middleware.)
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import pymongo
from aiohttp import web
from pymongo.errors import PyMongoError

from engagement_svc.api.client_address import client_address
from engagement_svc.api.errors import FORBIDDEN, UNAUTHORIZED, failure
from engagement_svc.api.middleware import REQUEST_ID_KEY
from engagement_svc.api.params import wants_csv
from engagement_svc.api.wire import JSON_TYPE, NO_STORE, json_response
from engagement_svc.counting.work import CALLER, DEADLINE, Busy
from engagement_svc.mongo_health import PROBE_EVERY_S
from engagement_svc.reports.csv import Table
from engagement_svc.reports.queries import BadRequest, NotFound
from engagement_svc.reports.report import Report
from engagement_svc.resources import (
    DB_HEALTH,
    DB_PROBLEMS,
    ENGINE,
    METRICS,
    RATE_LIMITER,
    RELEASER,
    ROCKETCHAT_DB,
    SETTINGS,
    SOURCES,
    TRUSTED_PROXIES,
    USER_LOOKUPS,
    WORKSPACE,
)
from engagement_svc.rocketchat.auth import authorize
from engagement_svc.rocketchat.workspace import limit as rate_limit

log = logging.getLogger("engagement_svc")


STREAM_BATCH = 64 * 1024  # characters written at a time when an answer is streamed


async def send_stream(request: web.Request, headers: dict[str, str], pieces: AsyncIterator[str]) -> web.StreamResponse:
    """An answer written as its pieces come, in batches (never held whole: a year of active users is 39 MB)."""
    response = web.StreamResponse(headers={**headers, "X-Request-Id": request.get(REQUEST_ID_KEY, "")})
    await response.prepare(request)
    batch: list[str] = []
    size = 0
    try:
        async for text in pieces:
            batch.append(text)
            size += len(text)
            if size >= STREAM_BATCH:
                await response.write("".join(batch).encode())
                batch, size = [], 0
    except (TimeoutError, PyMongoError) as exc:
        # The status is sent already: the answer is cut off (no final chunk), so no client takes it as whole.
        log.warning("database %s while streaming an answer; answer cut off", request.app[DB_PROBLEMS].of(exc))
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write("".join(batch).encode())
    await response.write_eof()
    return response


async def _csv_pieces(table: Table) -> AsyncIterator[str]:
    yield table.head()
    async for text in table.lines:
        yield text


async def _pieces(parts: Iterable[str]) -> AsyncIterator[str]:
    for part in parts:
        yield part


def send_csv(request: web.Request, table: Table, headers: dict[str, str]) -> Awaitable[web.StreamResponse]:
    """The table streamed: the header first, then its lines as they come."""
    disposition = f'attachment; filename="{table.filename}"'
    csv = {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": disposition}
    return send_stream(request, {**headers, **csv}, _csv_pieces(table))


def handler(report: Report[Any]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        limit = settings.query_timeout_ms / 1000
        deadline = time.monotonic() + limit
        headers: dict[str, str] = dict(NO_STORE)  # and the rate limit's, on every answer after it
        try:
            # One deadline for the whole request. PyMongo sends what is left of it as maxTimeMS; counting that
            # other requests share runs in the background and goes on past it, so a retry finds it done.
            async with asyncio.timeout(limit):
                with pymongo.timeout(limit):
                    health = request.app[DB_HEALTH]
                    if health.down:  # known down: said at once, not after the whole time limit
                        text = f"The database is unavailable ({health.explain()}); try again later"
                        return failure(503, text, headers={**headers, "Retry-After": str(PROBE_EVERY_S)})
                    workspace = request.app[WORKSPACE]
                    access = await authorize(
                        request.app[ROCKETCHAT_DB], request.headers, workspace, request.app[USER_LOOKUPS]
                    )
                    if access.status == 401:
                        request.app[METRICS].refused.labels("401").inc()
                        return json_response(UNAUTHORIZED, 401, headers)
                    if access.status == 403:
                        request.app[METRICS].refused.labels("403").inc()
                        return json_response(FORBIDDEN, 403, headers)
                    budget = rate_limit(workspace.last, settings.rate_limit_calls, settings.rate_limit_seconds)
                    if budget.calls and not access.bypass_rate_limit:
                        address = client_address(
                            request.remote, request.headers.getall("X-Forwarded-For", []), request.app[TRUSTED_PROXIES]
                        )
                        verdict = request.app[RATE_LIMITER].hit(
                            report.path, request.method, address, budget.calls, budget.seconds
                        )
                        headers.update(verdict.headers())
                        if not verdict.allowed:
                            request.app[METRICS].rate_limited.inc()
                            return failure(
                                429, verdict.error(), headers={**headers, "Retry-After": str(verdict.wait_seconds)}
                            )
                    query = report.params.parse(request.query, settings)
                    csv = wants_csv(request.query, request.headers.get("Accept", ""))  # an extension: checked last
                    # Counting this request needs is queued as this caller's, and refused at once (Busy) when it
                    # cannot be done before the deadline.
                    CALLER.set(access.user_id)
                    DEADLINE.set(deadline)
                    sources = request.app[SOURCES]
                    try:
                        with request.app[ENGINE].closed.request_hold():
                            if csv:
                                return await send_csv(request, await report.table(sources, query), headers)
                            body = await report.json(sources, query)
                    finally:
                        request.app[RELEASER].after_request()  # its days and keys are freed: handed back if many
                    if isinstance(body, str):
                        return json_response(body, 200, headers)
                    return await send_stream(request, {**headers, **JSON_TYPE}, _pieces(body))
        except BadRequest as exc:
            return failure(400, str(exc), headers=headers)
        except NotFound as exc:
            return failure(404, str(exc), headers=headers)
        except Busy as exc:
            wait = max(1, math.ceil(exc.seconds))
            progress = request.app[ENGINE].progress()
            log.warning("counting ahead of a request: about %d s for %d days; answered 503", wait, exc.units_left)
            return failure(
                503,
                f"Counting {exc.units_left} days of history first takes about {wait} s, longer than "
                f"this request may wait ({settings.query_timeout_ms} ms); the counting goes on: try "
                f"again in {wait} s ({progress['days_counted']} days counted since start-up, "
                f"{progress['days_left']} left)",
                headers={**headers, "Retry-After": str(wait)},
                progress=progress,
            )
        except (TimeoutError, PyMongoError) as exc:
            problem = request.app[DB_PROBLEMS].of(exc)
            log.warning("database %s: %s", problem, type(exc).__name__)
            if problem == "timeout":
                text = f"The database did not answer within {settings.query_timeout_ms} ms; try again later"
            elif problem == "auth_failed":
                text = "The database refused the service's credentials; try again later"
            else:
                text = "The database is unavailable; try again later"
            return failure(503, text, headers=headers)

    handle.__name__ = handle.__qualname__ = f"endpoint {report.path}"
    return handle

"""What every HTTP answer goes through: metrics by route, one log line with a request id."""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from engagement_svc.resources import METRICS

access_log = logging.getLogger("engagement_svc.access")
REQUEST_ID_KEY = web.RequestKey("request_id", str)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Methods are labels and log fields as themselves only when HTTP defines them: an invented method (the
# pure-Python parser lets any token through) is "other", so a caller cannot create metric series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request by its route's pattern; a request cut short by the client counts as 499."""
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 499
    metrics.in_flight.inc()
    began = time.perf_counter()
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        metrics.in_flight.dec()
        labels = (route, method_label(request.method), str(status))
        metrics.requests.labels(*labels).inc()
        metrics.latency.labels(*labels).observe(time.perf_counter() - began)


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take the caller's X-Request-Id (if it is a sane one) or make one, echo it, and log the request."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id  # a streamed answer sends its headers before it returns
    began = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        access_log.info(
            "request",
            extra={
                "fields": {
                    "method": method_label(request.method),
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - began) * 1000, 2),
                    "request_id": request_id,
                }
            },
        )

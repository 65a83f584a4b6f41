"""One JSON object per log line, and one line per HTTP request. Never a header value, token or stack trace."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from aiohttp import web

access_log = logging.getLogger("engagement_svc.access")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:  # the exception's type only: a trace can carry values
            line["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(line, default=str)


def silence_driver() -> None:
    """PyMongo's DEBUG logs print every command with its filter, and the user lookup's filter holds the hashed
    token: the driver logs warnings and errors only, whatever level the service runs at."""
    logging.getLogger("pymongo").setLevel(logging.WARNING)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    silence_driver()


@web.middleware
async def request_log(request: web.Request, handler) -> web.StreamResponse:
    """Take the caller's X-Request-Id (if it is a sane one) or make one, echo it, and log the request."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    began = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        access_log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "status": status,
            "duration_ms": round((time.perf_counter() - began) * 1000, 2), "request_id": request_id}})

"""Error bodies in the contract's shapes, and the middleware that gives every failure one of them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from engagement_svc.api.wire import NO_STORE, json_response
from engagement_svc.logs import origin

log = logging.getLogger("engagement_svc")

# Rocket.Chat 7.x/8.x sends both shapes at once (the status/message pair stays until 9.0).
UNAUTHORIZED = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}


def failure(
    status: int,
    error: str,
    progress: Mapping[str, int | None] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Rocket.Chat's `{"success": false, "error": ...}` shape (a 503 while counting adds the `progress`), never
    kept by a cache unless `headers` say otherwise."""
    body = {"success": False, "error": error, **({"progress": progress} if progress is not None else {})}
    return json_response(body, status, {**NO_STORE, **(headers or {})})


SHOWN_PATH_CHARS = 200


def shown_path(path: str) -> str:
    """The path as an error names it: at most 200 characters, control characters and quotes replaced by `?` (it
    is the client's own text; with nosniff and a JSON type nothing runs it, but a log or terminal might)."""
    cut = path[:SHOWN_PATH_CHARS] + ("..." if len(path) > SHOWN_PATH_CHARS else "")
    return "".join(c if c.isprintable() and c not in "\"'<>`" else "?" for c in cut)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Routing errors and anything unexpected answer in the contract's JSON shape; no trace leaves the process."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        text = {404: "Not found", 405: "Method not allowed"}.get(exc.status, exc.reason)
        return failure(exc.status, f"{text}: {request.method} {shown_path(request.path)}", headers=headers)
    except Exception as exc:  # noqa: BLE001 - a bug: answer 500 without detail, log one line without a trace
        log.error(
            "unexpected %s on %s %s (raised at %s)",
            type(exc).__name__,
            request.method,
            shown_path(request.path),
            origin(exc),
        )
        return failure(500, "Internal server error")

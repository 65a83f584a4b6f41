"""Error bodies in the contract's shapes, and the middleware that gives every failure one of them."""

from __future__ import annotations

import logging

from aiohttp import web

from engagement_svc.logs import origin

log = logging.getLogger("engagement_svc")

UNAUTHORIZED = {"status": "error", "message": "You must be logged in to do this."}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}


def failure(status: int, error: str, progress: dict | None = None, **kwargs) -> web.Response:
    """Rocket.Chat's `{"success": false, "error": ...}` shape (a 503 while counting adds the `progress`)."""
    body = {"success": False, "error": error, **({"progress": progress} if progress is not None else {})}
    return web.json_response(body, status=status, **kwargs)


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Routing errors and anything unexpected answer in the contract's JSON shape; no trace leaves the process."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        text = {404: "Not found", 405: "Method not allowed"}.get(exc.status, exc.reason)
        return failure(exc.status, f"{text}: {request.method} {request.path}", headers=headers)
    except Exception as exc:  # noqa: BLE001 - a bug: answer 500 without detail, log one line without a trace
        log.error(
            "unexpected %s on %s %s (raised at %s)", type(exc).__name__, request.method, request.path, origin(exc)
        )
        return failure(500, "Internal server error")

"""Rocket.Chat's CORS on the API paths, following its `API_Enable_CORS` and `API_CORS_Origin` settings live.

With CORS on, every answer under /api/ carries the allow headers: `*`, or the caller's origin when it is one of
the listed origins (with `Vary: Origin`); a request from an origin not listed is refused 403 `Invalid origin`.
`OPTIONS` on any API path is answered here, 200 `OK` with those headers; with CORS off a preflight (one with
`Access-Control-Request-Method`) is a 405 that says how to turn it on, as in Rocket.Chat.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from engagement_svc.api.wire import NO_STORE
from engagement_svc.resources import DB_HEALTH, ROCKETCHAT_DB, SETTINGS, WORKSPACE
from engagement_svc.rocketchat.workspace import cors as cors_settings

API_PREFIX = "/api/"
ALLOW_METHODS = "GET, POST, PUT, DELETE, HEAD, PATCH"
ALLOW_HEADERS = (
    "Origin, X-Requested-With, Content-Type, Accept, X-User-Id, X-Auth-Token, x-visitor-token, Authorization"
)
CORS_OFF = 'CORS not enabled. Go to "Admin > General > REST Api" to enable it.'
FIRST_READ_S = 2.0  # the most an API request waits for Rocket.Chat's settings before any was read
CORS_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("cors_headers", dict)


def _text(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text, headers={**NO_STORE, **(headers or {})})


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    # The first read is waited for (at most FIRST_READ_S), unless the database is known down: then CORS is
    # Rocket.Chat's default (off) until a read succeeds, and the known-down 503 comes at once.
    seconds = 0.0 if request.app[DB_HEALTH].down else min(request.app[SETTINGS].query_timeout_ms / 1000, FIRST_READ_S)
    policy = cors_settings(await request.app[WORKSPACE].current(request.app[ROCKETCHAT_DB], seconds))
    origin = request.headers.get("Origin")
    preflight = request.method == "OPTIONS"
    if not policy.enabled:
        if preflight:
            if "Access-Control-Request-Method" in request.headers:
                return _text(405, CORS_OFF)
            return _text(200, "OK")
        return await handler(request)
    allow = {"Access-Control-Allow-Methods": ALLOW_METHODS, "Access-Control-Allow-Headers": ALLOW_HEADERS}
    if policy.any_origin:
        allow["Access-Control-Allow-Origin"] = "*"
    else:
        allow["Vary"] = "Origin"
        if origin is not None:
            if origin.strip().lower() not in policy.origins:
                return _text(403, "Invalid origin", {"Vary": "Origin"})
            allow["Access-Control-Allow-Origin"] = origin
    if preflight:
        return _text(200, "OK", allow)
    request[CORS_HEADERS] = allow  # added as the answer's headers go out, streamed answers included
    return await handler(request)


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The on_response_prepare hook that puts the allow headers on the answer, whatever made it."""
    # Request.get is the plain mapping's (its values are Any): the key's type, said again.
    allow: dict[str, str] = request.get(CORS_HEADERS, {})
    for name, value in allow.items():
        merged = name == "Vary" and "Vary" in response.headers  # Vary is added to, never replaced
        response.headers[name] = f"{response.headers['Vary']}, {value}" if merged else value

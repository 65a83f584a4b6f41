"""Rocket.Chat's conventions on the wire that every JSON answer follows (see shared/spec/rocketchat-wire.md):
`application/json` without a charset parameter (aiohttp's json_response adds one) and, for answers of a route,
`Cache-Control: no-store` with `Pragma: no-cache` (they are for one signed-in user: never kept by a proxy)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

JSON_TYPE = {"Content-Type": "application/json"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """`body` as JSON (a str is JSON text already, anything else goes through json.dumps) with Rocket.Chat's
    content type; `headers` may add to or replace it."""
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(body=text.encode(), status=status, headers={**JSON_TYPE, **(headers or {})})

"""The HTTP server around the application: what aiohttp's own parser refuses answers in the contract's shape.

Requests aiohttp cannot parse (bytes that are not HTTP, a line over 8,190 bytes, too many or malformed headers,
an unknown method) never reach the application: aiohttp answers them itself, in plain text that echoes the
client's bytes, and logs them at ERROR. Here they get a JSON body that names the kind of problem and nothing the
client sent, a WARNING at most once a minute with a count, and a metric by kind. Every answer carries `Server:
engagement-svc`, without versions.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from engagement_svc.api.wire import NO_STORE, NOSNIFF, json_response
from engagement_svc.resources import METRICS

log = logging.getLogger("engagement_svc")
SERVER = "engagement-svc"
MALFORMED_LOG_EVERY_S = 60.0
EXIT_GRACE_S = 2.0


def malformed_reason(exc: BaseException | None) -> str:
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return "bad_method"
    if isinstance(exc, http_exceptions.LineTooLong):
        return "line_too_long"
    if isinstance(exc, http_exceptions.InvalidHeader):
        return "bad_header"
    if isinstance(exc, http_exceptions.HttpProcessingError):
        return "bad_request"
    return "other"


class _Protocol(RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        server = self._manager
        if status >= 500:
            log.error("HTTP server error %d outside the application: %s", status, type(exc).__name__)
            text = "Internal server error"
        else:
            reason = malformed_reason(exc)
            if isinstance(server, _Server):
                server.malformed(reason)
            text = f"Malformed HTTP request ({reason})"
        if request.writer.output_size > 0:  # some of an answer went out already: the connection is broken
            raise ConnectionError("response already started")
        response = json_response({"success": False, "error": text}, status, {"Server": SERVER, **NO_STORE, **NOSNIFF})
        response.force_close()
        return response


class _Server(web.Server):
    """aiohttp's server with the protocol above; counts and logs what the parser refused."""

    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)

    def malformed(self, reason: str) -> None:
        app = getattr(self, "app", None)
        if app is not None:
            app[METRICS].malformed.labels(reason).inc()
        self.refused = getattr(self, "refused", 0) + 1
        now = time.monotonic()
        if now - getattr(self, "logged_at", -MALFORMED_LOG_EVERY_S) >= MALFORMED_LOG_EVERY_S:
            log.warning("malformed HTTP requests refused: %d (latest: %s)", self.refused, reason)
            self.logged_at, self.refused = now, 0


class Runner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same object, answering parser errors as above (aiohttp has no hook)
        server.app = self.app  # type: ignore[attr-defined]
        return server


async def server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer names the server without a version, and forbids browsers to guess its type (an error that
    names the client's path must never be run as a page)."""
    response.headers["Server"] = SERVER
    for name, value in NOSNIFF.items():
        response.headers.setdefault(name, value)


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    drain_seconds: float,
    keepalive_seconds: float,
    ready: Callable[[], None],
) -> None:
    # aiohttp closes a connection whose next request has not fully arrived keepalive_seconds after it opened or
    # was last answered: one bound for idle connections and for slowly sent heads (its default is an hour).
    runner = Runner(
        app, access_log=None, handle_signals=False, shutdown_timeout=drain_seconds, keepalive_timeout=keepalive_seconds
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ready()
        await stop.wait()
    finally:
        # Stop listening at once; requests in flight get up to drain_seconds; then the app's clean-up.
        await runner.cleanup()


def run(
    app: web.Application,
    host: str,
    port: int,
    drain_seconds: float,
    ready: Callable[[], None],
    keepalive_seconds: float,
) -> None:
    """Serve until SIGTERM or SIGINT, then exit within a bound: unlike asyncio.run, which waits without end for
    every task to finish, whatever is left after the app's clean-up gets EXIT_GRACE_S."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve(app, host, port, drain_seconds, keepalive_seconds, ready))
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            _, stuck = loop.run_until_complete(asyncio.wait(left, timeout=EXIT_GRACE_S))
            if stuck:
                log.warning("exiting with %d background tasks that did not stop", len(stuck))
                loop.set_exception_handler(lambda _loop, _context: None)  # no "destroyed but pending" noise
        loop.close()

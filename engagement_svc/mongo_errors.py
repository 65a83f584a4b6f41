"""What went wrong talking to MongoDB, in one word: for 503s, /readyz and log lines (never the driver's text)."""

from __future__ import annotations

import time

from pymongo import monitoring

AUTHENTICATION_FAILED = 18
AUTH_MEMORY_S = 60  # after a refusal of the credentials, a paused pool or a timeout is told as that refusal


class DatabaseProblems(monitoring.CommandListener):
    """Tells what went wrong in a word, remembering a refusal of the service's credentials until a command next
    succeeds (it listens to the clients' commands). One per application: two apps in one process (the tests)
    never mix what they saw."""

    def __init__(self) -> None:
        self._auth_failed_at = 0.0

    def of(self, exc: BaseException) -> str:
        """ "auth_failed" when the server refused the service's credentials (PyMongo reports that as a
        server-selection timeout when it happens while connecting, as a paused pool right after, and a request
        then runs out of time waiting), "timeout", or "unavailable"."""
        text = str(exc)
        refused_lately = time.monotonic() - self._auth_failed_at < AUTH_MEMORY_S
        if getattr(exc, "code", None) == AUTHENTICATION_FAILED or "Authentication failed" in text:
            self._auth_failed_at = time.monotonic()
            return "auth_failed"
        if "pool paused" in text and refused_lately:
            return "auth_failed"
        if isinstance(exc, TimeoutError) or getattr(exc, "timeout", False):
            # A request's own deadline (asyncio's TimeoutError says nothing) while the server keeps refusing us.
            return "auth_failed" if refused_lately else "timeout"
        return "unavailable"

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """A command went through: the credentials work (again), whatever was refused before."""
        self._auth_failed_at = 0.0

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

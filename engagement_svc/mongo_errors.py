"""What went wrong talking to MongoDB, in one word: for 503s, /readyz and log lines (never the driver's text)."""

from __future__ import annotations

import time

AUTHENTICATION_FAILED = 18
_auth_failed_at = [0.0]  # when MongoDB last refused the credentials, until a command next succeeds


def database_problem(exc: BaseException) -> str:
    """What went wrong talking to MongoDB, in a word for 503s, /readyz and logs: "auth_failed" when the server
    refused the service's credentials (PyMongo reports that as a server-selection timeout when it happens while
    connecting, as a paused pool right after, and a request then runs out of time waiting), "timeout", or
    "unavailable"."""
    text = str(exc)
    if getattr(exc, "code", None) == AUTHENTICATION_FAILED or "Authentication failed" in text:
        _auth_failed_at[0] = time.monotonic()
        return "auth_failed"
    if "pool paused" in text and time.monotonic() - _auth_failed_at[0] < 60:
        return "auth_failed"
    if isinstance(exc, TimeoutError) or getattr(exc, "timeout", False):
        # A request's own deadline (asyncio's TimeoutError says nothing) while the server keeps refusing us.
        return "auth_failed" if time.monotonic() - _auth_failed_at[0] < 60 else "timeout"
    return "unavailable"


def command_succeeded() -> None:
    """A command went through: the credentials work (again), whatever was refused before."""
    _auth_failed_at[0] = 0.0

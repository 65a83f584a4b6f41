"""Background tasks: outside any request's context (no deadline applies), and never dying silently."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from pymongo.errors import PyMongoError

from engagement_svc.logs import origin

log = logging.getLogger("engagement_svc.tasks")
T = TypeVar("T")


def report_failure(task: asyncio.Task[object]) -> None:
    """A background task that dies of a bug says so in the log (its type and where), instead of vanishing."""
    exc = None if task.cancelled() else task.exception()
    if exc is None or isinstance(exc, (PyMongoError, TimeoutError)):
        return
    if task.cancelling():  # it was being stopped (shutting down): what it raised then is no bug of its own
        log.debug("background work %s ended while stopping: %s", task.get_name(), type(exc).__name__)
    else:
        log.error("background work %s failed: %s (raised at %s)", task.get_name(), type(exc).__name__, origin(exc))


def background(coro: Coroutine[Any, Any, T], name: str = "") -> asyncio.Task[T]:
    """A task outside the caller's context: no request deadline applies to it, and it outlives the request."""
    task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context(), name=name or None)
    task.add_done_callback(report_failure)
    return task


def cancelled() -> bool:
    """Whether the current task was asked to stop. PyMongo may turn a cancellation inside a read into one of its
    own errors and carry on; a background loop that catches those errors asks this before it tries again."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

"""PyMongo's waits on its own locks, made safe to cancel on Python 3.11.

PyMongo waits for a server (server selection) and for a free connection with `asyncio.wait_for(condition.wait(),
t)`, the lock held around it. On Python 3.11 `wait_for` runs the wait in a task of its own; when it times out it
cancels that task and waits for it, and a cancellation of the caller arriving then (a request's deadline) makes
the caller leave while the wait is still running. The caller releases a lock it no longer holds ("Lock is not
acquired"), and the wait re-takes the lock as it ends and never gives it back: every later server selection of
that client waits forever. Seen here with mongod killed under load (tests/system/test_faults.py): the service
stayed at 503 after mongod was back, and a test run hung in its teardown.

From Python 3.12 on, `wait_for` waits in the caller's own task, where a cancelled `Condition.wait` takes the lock
back before it lets the cancellation through. `install` gives PyMongo that same wait on 3.11: a deadline in the
caller's task (`asyncio.timeout`), no second task.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import Protocol

# The PyMongo modules that imported the wait by name (replacing it in pymongo.lock alone would not reach them).
USERS = ("pymongo.asynchronous.topology", "pymongo.asynchronous.pool")


class Condition(Protocol):
    """What `cond_wait` needs of a condition: PyMongo's own on 3.11 (pymongo._asyncio_lock), asyncio's later."""

    async def wait(self) -> bool: ...


async def cond_wait(condition: Condition, seconds: float | None) -> bool:
    """Wait on `condition` (its lock held) until notified (True) or `seconds` pass (False), in the calling task:
    a cancellation ends the wait only once the lock is held again, as the caller expects. PyMongo passes both
    positionally."""
    try:
        async with asyncio.timeout(seconds):
            return await condition.wait()
    except TimeoutError:
        return False


def install() -> bool:
    """Give PyMongo's asynchronous topology and pool `cond_wait` (Python < 3.12 only: later versions' `wait_for`
    already waits in the caller's task). Idempotent; returns whether PyMongo's wait was replaced."""
    if sys.version_info >= (3, 12):
        return False
    replaced = False
    for name in USERS:
        module = importlib.import_module(name)
        if hasattr(module, "_async_cond_wait"):  # a PyMongo that waits otherwise needs nothing (a test checks)
            setattr(module, "_async_cond_wait", cond_wait)  # noqa: B010 - a private name mypy does not know
            replaced = True
    return replaced

"""Freed memory handed back to the system. CPython returns freed small objects to its own arenas, and glibc keeps
freed heap blocks for reuse: after a backfill (the decoded aggregation results of thousands of days), a year of
active users' lists or a members table over a year, the process would go on holding memory it no longer uses.
`malloc_trim` releases it."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os

from engagement_svc.tasks import background

log = logging.getLogger("engagement_svc.memory")
_LIBC = ctypes.util.find_library("c")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
STEP_BYTES = 64 * 2**20  # resident growth since the last release that makes a request's end release again


def _malloc_trim() -> None:
    if _LIBC is None:
        return
    try:
        ctypes.CDLL(_LIBC).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to release this way
        log.debug("malloc_trim is not available")


def trim() -> None:
    """Collect garbage, then ask the C library to release freed heap memory (glibc only; elsewhere nothing)."""
    gc.collect()
    _malloc_trim()


def resident_bytes() -> int | None:
    """The process's resident memory (Linux's /proc; elsewhere None)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


class Releaser:
    """After a request that left the process `step` bytes bigger than the last release did (a year of a big
    server's keys read, then dropped), the freed heap goes back to the system at once, not at the next ten-minute
    refresh. The C library's trim runs in a thread, one at a time: the event loop goes on meanwhile, but a block it
    asks glibc for waits for the trim's lock (about 0.1 s for a fragmented 1 GB heap on a 2-core machine). No
    garbage collection here, which would stop the loop for as long as it walks every object. What CPython keeps in
    its own arenas (small objects) is not glibc's heap, and no trim releases it."""

    def __init__(self, step: int = STEP_BYTES):
        self._step = step
        self._floor = resident_bytes()
        self._task: asyncio.Task[None] | None = None
        self.releases = 0

    def after_request(self) -> asyncio.Task[None] | None:
        """Release if resident memory grew by the step since the last release (the task doing it, if it starts)."""
        now = resident_bytes()
        if now is None or self._floor is None or now < self._floor + self._step:
            if now is not None and self._floor is not None and now < self._floor:
                self._floor = now  # shrunk by itself: the step counts from there
            return None
        if self._task is not None and not self._task.done():
            return None
        self._task = background(self._release(), "memory release")
        return self._task

    async def _release(self) -> None:
        await asyncio.to_thread(_malloc_trim)
        self._floor = resident_bytes()
        self.releases += 1

    async def stop(self) -> None:
        """Waits for a release under way (a trim cannot be cancelled; it ends soon)."""
        if self._task is not None:
            await asyncio.wait([self._task])

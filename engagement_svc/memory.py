"""Freed memory handed back to the system. CPython returns freed small objects to its own arenas, and glibc keeps
freed heap blocks for reuse: after a backfill (the decoded aggregation results of thousands of days) or a year of
active users' lists, the process would go on holding memory it no longer uses. `malloc_trim` releases it."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("engagement_svc.memory")
_LIBC = ctypes.util.find_library("c")


def trim() -> None:
    """Collect garbage, then ask the C library to release freed heap memory (glibc only; elsewhere nothing)."""
    gc.collect()
    if _LIBC is None:
        return
    try:
        ctypes.CDLL(_LIBC).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to release this way
        log.debug("malloc_trim is not available")

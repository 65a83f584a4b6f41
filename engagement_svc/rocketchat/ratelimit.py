"""Rocket.Chat's API rate limiter: one fixed window per route, method and client address, its headers and its 429.

Like Rocket.Chat's, a window starts at a key's first call and admits `calls` calls until it ends; users whose
roles hold `api-bypass-rate-limit` are not limited. The limit in force is passed with each call, so a change of
Rocket.Chat's settings applies to the next call (a running window keeps its end). The windows live in this
process: behind N replicas a client may make up to N times the limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

# Windows kept at most. Keys come from real client addresses (or a trusted proxy's X-Forwarded-For), so this is
# reached only under a flood from very many addresses; the oldest windows then go first (about 100 bytes each).
MAX_WINDOWS = 200_000


class Verdict(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    reset_epoch_ms: int  # when the window ends, in UTC epoch milliseconds (Rocket.Chat's X-RateLimit-Reset)
    wait_seconds: int  # whole seconds until the window ends, rounded up

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch_ms),
        }

    def error(self) -> str:
        return (
            f"Error, too many requests. Please slow down. You must wait {self.wait_seconds} seconds before "
            "trying this endpoint again. [error-too-many-requests]"
        )


class _Window:
    """One key's window: when it ends (monotonic) and the calls made in it."""

    __slots__ = ("calls", "end")

    def __init__(self, end: float) -> None:
        self.end = end
        self.calls = 0


class RateLimiter:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_windows: int = MAX_WINDOWS,
    ):
        self._clock, self._wall = clock, wall
        self._max_windows = max_windows
        self._windows: dict[tuple[str, str, str], _Window] = {}  # (route, method, address) -> its window
        self._next_prune = 0.0

    def __len__(self) -> int:
        """Windows held (ended ones included until the next prune)."""
        return len(self._windows)

    def hit(self, route: str, method: str, address: str, calls: int, seconds: float) -> Verdict:
        """One call of `route` by `method` from `address`, under a limit of `calls` per `seconds`."""
        now = self._clock()
        if now >= self._next_prune or len(self._windows) >= self._max_windows:
            self._prune(now, seconds)
        key = (route, method, address)
        window = self._windows.get(key)
        if window is None or window.end <= now:
            window = self._windows[key] = _Window(now + seconds)
        window.calls += 1
        left = window.end - now
        return Verdict(
            window.calls <= calls,
            calls,
            max(calls - window.calls, 0),
            int((self._wall() + left) * 1000),
            max(math.ceil(left), 1),
        )

    def _prune(self, now: float, seconds: float) -> None:
        """Forget ended windows (at most once per window length); at the bound, the oldest down to 90% of it, so
        that a flood pays for a prune once per tenth of the bound, not per call."""
        self._windows = {k: w for k, w in self._windows.items() if w.end > now}
        excess = len(self._windows) - self._max_windows * 9 // 10
        if excess > 0:
            for key in list(self._windows)[:excess]:  # insertion order: the windows begun first
                del self._windows[key]
        self._next_prune = now + min(seconds, 60.0)

"""A per-user API rate limit with Rocket.Chat's behaviour: a fixed window per user, its headers and its 429 body.

Like Rocket.Chat's, a window starts at a user's first call and admits `calls` calls until it ends; users whose
roles hold `api-bypass-rate-limit` are not limited. The windows live in this process: behind N replicas a user
may make up to N times the limit.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple


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


class RateLimiter:
    def __init__(self, calls: int, seconds: float, clock=time.monotonic, wall=time.time):
        self.calls = calls
        self.seconds = seconds
        self._clock, self._wall = clock, wall
        self._windows: dict[str, list] = {}  # user -> [window end (monotonic), calls made]
        self._next_prune = 0.0

    def hit(self, user: str) -> Verdict:
        now = self._clock()
        if now >= self._next_prune:  # forget ended windows once per window length: memory stays bounded by users
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            self._next_prune = now + self.seconds
        window = self._windows.get(user)
        if window is None or window[0] <= now:
            window = self._windows[user] = [now + self.seconds, 0]
        window[1] += 1
        left = window[0] - now
        return Verdict(
            window[1] <= self.calls,
            self.calls,
            max(self.calls - window[1], 0),
            int((self._wall() + left) * 1000),
            max(math.ceil(left), 1),
        )

"""Per-key rate limits in Redis (moving window, the `limits` library)."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    def __init__(self, redis_url: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(redis_url))

    def hit(self, rule: str, *identifiers: str) -> float | None:
        """Count one request; None if allowed, else seconds until the next one is."""
        item = parse(rule)
        if self.limiter.hit(item, *identifiers):
            return None
        reset = self.limiter.get_window_stats(item, *identifiers).reset_time
        return max(1.0, math.ceil(reset - time.time()))

"""Per-key rate limits: a token bucket per API key, in this process's memory.

Each key may make ``rate`` requests per minute on average, in bursts of up to
``rate / 6`` (ten seconds' worth, at least 10). Limits are per node: two nodes
behind a balancer each grant a key its full rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by a string (the key's public id)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @staticmethod
    def burst(per_minute: int) -> float:
        """How many requests a full bucket holds for a limit of ``per_minute``."""
        return max(10.0, per_minute / 6)

    def take(self, key: str, per_minute: int) -> float:
        """Spend one token of ``key``: 0.0 if allowed, else seconds until one is free."""
        rate = per_minute / 60.0
        capacity = self.burst(per_minute)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        """A ``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(seconds)))

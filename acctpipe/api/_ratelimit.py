"""Per-key rate limits, and a per-address limit on failed authentication, in memory.

Each key may make ``rate`` requests per minute on average, in bursts of up to
``rate / 6`` (ten seconds' worth, at least 10). Limits are per node: two nodes
behind a balancer each grant a key its full rate.

:class:`FailureLimiter` counts failed authentications (unknown, wrong or revoked
keys) per client address with the same buckets; while an address is over its
limit its requests are answered 429 before any key lookup, so a stream of bogus
keys cannot turn into a stream of database queries. It remembers at most
``max_clients`` addresses (the least recently failing are forgotten first), so
a flood from many addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mta.smtp_server.authlimit import client_key

__all__ = ["FailureLimiter", "RateLimiter"]


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


class FailureLimiter:
    """Failed authentications per client address: ``per_minute`` on average, bursts of 10.

    An IPv6 client is counted by its /64 (:func:`mta.smtp_server.authlimit.client_key`): it can use
    any address of it, so a fresh address must not mean a fresh budget.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._clock = clock
        self._rate = per_minute / 60.0
        self._capacity = RateLimiter.burst(per_minute)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def _refill(self, client: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(client)
        if bucket is not None:
            bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
        return bucket

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before its next try (0.0: it may try now)."""
        client = client_key(client)
        with self._lock:
            bucket = self._refill(client, self._clock())
            if bucket is None or bucket.tokens >= 1.0:
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def failed(self, client: str) -> None:
        """Count one failed authentication from ``client``."""
        client = client_key(client)
        now = self._clock()
        with self._lock:
            bucket = self._refill(client, now)
            if bucket is None:
                while len(self._buckets) >= self.max_clients:
                    self._buckets.popitem(last=False)  # the least recently failing
                bucket = self._buckets[client] = _Bucket(self._capacity, now)
            self._buckets.move_to_end(client)
            bucket.tokens = max(0.0, bucket.tokens - 1.0)

    def __len__(self) -> int:
        """How many client addresses are remembered."""
        return len(self._buckets)

"""Rate limiting and warmup: token buckets and rising rates, computed, never slept.

Sans-IO: every function takes ``now`` (seconds on a monotonic clock, or a
timezone-aware datetime for warmup days); the delivery scheduler owns the
clock and the waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from mta.config.model import Warmup
from mta.config.values import Rate

__all__ = ["TokenBucket", "effective_rate", "warmup_rate"]


def _one_second_of(rate: Rate) -> float:
    """The default burst: one second's worth of ``rate``, at least one token (none at 0)."""
    if rate.is_unlimited:
        return math.inf
    return max(1.0, rate.per_second) if rate.per_second > 0 else 0.0


@dataclass(slots=True)
class TokenBucket:
    """A token bucket for ``rate``: at most ``burst`` events at once, then ``rate`` per second.

    ``burst`` defaults to one second's worth (at least one token), so ``30/s`` lets 30
    messages go at once and then one every 1/30 s; ``2000/h`` lets one go, then one
    every 1.8 s.
    """

    rate: Rate
    burst: float = 0.0
    tokens: float = -1.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        if self.burst <= 0:
            self.burst = _one_second_of(self.rate)
        if self.rate.per_second <= 0:
            self.burst = 0.0
        if self.tokens < 0:
            self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.rate.is_unlimited:
            self.tokens = math.inf
        elif now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate.per_second)
        self.stamp = max(self.stamp, now)

    def try_take(self, now: float, n: float = 1.0) -> bool:
        """Take ``n`` tokens if there are enough at ``now``; say whether it did."""
        self._refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def wait_time(self, now: float, n: float = 1.0) -> float:
        """Seconds from ``now`` until ``n`` tokens are available (0 when they are)."""
        self._refill(now)
        if self.tokens >= n:
            return 0.0
        if self.rate.per_second <= 0:
            return math.inf  # a rate of zero: never (a paused queue)
        return (n - self.tokens) / self.rate.per_second

    def set_rate(self, rate: Rate, now: float) -> None:
        """Change the rate live (throttle overrides), keeping the tokens earned so far."""
        self._refill(now)
        self.rate = rate
        self.burst = _one_second_of(rate)
        self.tokens = min(self.tokens, self.burst)


def warmup_rate(warmup: Warmup, started: datetime, now: datetime) -> Rate:
    """The warmup's rate at ``now`` for a schedule that began at ``started``.

    ``exponential`` grows by the same factor every day-fraction (start · (end/start)^f,
    the "double every few days" of IP warmup guides); ``linear`` adds the same amount.
    Before the start it is the start rate; after the period, the end rate.
    """
    elapsed = (now - started).total_seconds()
    fraction = min(1.0, max(0.0, elapsed / warmup.period)) if warmup.period > 0 else 1.0
    start, end = warmup.start_rate.per_second, warmup.end_rate.per_second
    if warmup.curve == "linear" or start <= 0:
        per_second = start + (end - start) * fraction
    else:
        per_second = start * (end / start) ** fraction
    return Rate(per_second * 3600.0, 3600.0)


def effective_rate(configured: Rate, warmup: Rate | None) -> Rate:
    """The stricter of the configured ``max-msg-rate`` and the warmup's rate of the day."""
    if warmup is None or warmup.per_second >= configured.per_second:
        return configured
    return warmup

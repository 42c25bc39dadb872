"""Token buckets and warmup schedules: the numbers the delivery scheduler obeys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mta.config._lexer import Where
from mta.config.model import Warmup
from mta.config.values import parse_rate
from mta.delivery.throttle import TokenBucket, effective_rate, warmup_rate


def test_bucket_allows_a_burst_then_the_rate() -> None:
    """30/s lets 30 go at once, then one every 1/30 s."""
    bucket = TokenBucket(parse_rate("30/s"))
    assert all(bucket.try_take(0.0) for _ in range(30))
    assert not bucket.try_take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(1 / 30)
    assert bucket.try_take(1 / 30 + 1e-9)


def test_slow_rates_allow_one_then_wait() -> None:
    """2000/h sends one, then waits 1.8 s for the next."""
    bucket = TokenBucket(parse_rate("2000/h"))
    assert bucket.try_take(10.0)
    assert not bucket.try_take(10.0)
    assert bucket.wait_time(10.0) == pytest.approx(1.8)


def test_rate_over_a_long_run_is_honoured() -> None:
    """Over 10 simulated seconds at 5/s, at most 5·10 + burst messages pass."""
    bucket = TokenBucket(parse_rate("5/s"))
    sent = sum(bucket.try_take(t / 100) for t in range(1000))
    assert 50 <= sent <= 55


def test_unlimited_never_waits_and_rates_change_live() -> None:
    """`unlimited` never blocks; set_rate applies a throttle override at once."""
    bucket = TokenBucket(parse_rate("unlimited"))
    assert all(bucket.try_take(0.0) for _ in range(10_000))
    bucket.set_rate(parse_rate("1/s"), 0.0)
    assert bucket.try_take(0.0)
    assert not bucket.try_take(0.5)


def _warmup(curve: str) -> Warmup:
    return Warmup(
        parse_rate("30/h"), parse_rate("4000/h"), 10 * 86400.0, None, curve, Where("t.conf", 1)
    )


@pytest.mark.parametrize("curve", ["exponential", "linear"])
def test_warmup_starts_low_and_ends_at_the_end_rate(curve: str) -> None:
    """Day 0 is the start rate, day 10 and after the end rate, and it only rises."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rates = [
        warmup_rate(_warmup(curve), start, start + timedelta(days=d)).per_second * 3600
        for d in range(0, 13)
    ]
    assert rates[0] == pytest.approx(30)
    assert rates[10] == pytest.approx(4000)
    assert rates[12] == pytest.approx(4000)
    assert rates == sorted(rates)


def test_exponential_warmup_is_geometric() -> None:
    """Half-way through an exponential warmup the rate is the geometric mean."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    mid = warmup_rate(_warmup("exponential"), start, start + timedelta(days=5))
    assert mid.per_second * 3600 == pytest.approx((30 * 4000) ** 0.5)


def test_the_stricter_rate_wins() -> None:
    """A warmup never lifts a message above the configured max-msg-rate."""
    configured = parse_rate("100/h")
    assert effective_rate(configured, parse_rate("50/h")).per_second == pytest.approx(50 / 3600)
    assert effective_rate(configured, parse_rate("500/h")) is configured
    assert effective_rate(configured, None) is configured

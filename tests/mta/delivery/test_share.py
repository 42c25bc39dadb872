"""smtp-workers: each worker's share of the outbound limits adds up to the configured value."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mta.config import effective_settings, parse_config_text
from mta.config.values import UNLIMITED, Rate
from mta.delivery.queue import DeliveryQueue, Override
from mta.delivery.share import Share, Slots, cap_share, rate_share
from mta.mgmt.models import QueueOut

CONFIG = """
<domain example.com>
    max-smtp-out 5
    max-msg-rate 10/s
    max-conn-rate 10/s
    backoff-max-msg-rate 2/s
</domain>
"""


def _queue(share: Share) -> DeliveryQueue:
    config = parse_config_text(CONFIG)
    settings = effective_settings(config, "example.com").settings
    return DeliveryQueue("example.com", "default", settings, share=share)


@given(cap=st.integers(0, 10_000), count=st.integers(1, 64))
def test_cap_shares_add_up_to_the_cap_and_differ_by_at_most_one(cap: int, count: int) -> None:
    shares = [cap_share(cap, i, count) for i in range(count)]
    assert sum(shares) == cap
    assert min(shares) >= 0
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the remainder goes to the lowest indexes
    if cap >= count:
        assert min(shares) >= 1  # every worker can deliver what it spooled


@given(cap=st.integers(1, 10_000), count=st.integers(1, 64), seed=st.integers(0, 2**32))
def test_a_workers_share_depends_on_its_index_only_not_on_who_asks_first(
    cap: int, count: int, seed: int
) -> None:
    order = list(range(count))
    random.Random(seed).shuffle(order)
    asked = {i: Share(i, count).cap(cap) for i in order}
    assert [asked[i] for i in range(count)] == [Share(i, count).cap(cap) for i in range(count)]
    if cap < count:  # too small to split: each worker may use all of it, by slot
        assert set(asked.values()) == {cap}
        assert Share(0, count).slotted(cap)
    else:
        assert sum(asked.values()) == cap
        assert not Share(0, count).slotted(cap)


@given(
    count=st.floats(0.001, 1e6),
    per=st.sampled_from([1.0, 60.0, 3600.0, 86400.0]),
    workers=st.integers(1, 64),
)
def test_rate_shares_add_up_to_the_rate(count: float, per: float, workers: int) -> None:
    rate = Rate(count, per)
    shares = [rate_share(rate, workers) for _ in range(workers)]
    assert math.isclose(sum(s.per_second for s in shares), rate.per_second, rel_tol=1e-9)
    assert all(s.per_second > 0 for s in shares)


def test_unlimited_and_zero_rates_stay_what_they_are() -> None:
    assert rate_share(UNLIMITED, 4).is_unlimited
    assert rate_share(Rate(0, 1), 4).per_second == 0
    assert rate_share(Rate(30, 1), 1) == Rate(30, 1)


def test_a_queue_enforces_its_share_of_config_backoff_and_overrides() -> None:
    """Config and live overrides go through the same share (the strictest rate in force,
    warmup included, is split last): worker 1 of 2 gets 2 of max-smtp-out 5, half of each
    rate; the status shows the share and the total."""
    now = time.time()
    alone, second = _queue(Share()), _queue(Share(1, 2))
    assert (alone.max_connections(now), second.max_connections(now)) == (5, 2)
    assert _queue(Share(0, 2)).max_connections(now) == 3
    assert second.msg_rate(now).per_second == alone.msg_rate(now).per_second / 2
    assert second.conn_bucket.rate.per_second == 5.0
    second.enter_backoff(now, 60)
    assert second.msg_rate(now).per_second == 1.0  # backoff-max-msg-rate 2/s, halved
    Override("example.com", rate=0.02, max_smtp_out=4, expires_at=now + 60).apply(second)
    assert second.max_connections(now) == 2
    assert second.msg_rate(now).per_second == 0.01
    Override("example.com", max_smtp_out=1, expires_at=now + 60).apply(second)
    assert second.max_connections(now) == 1  # below the worker count: a shared slot
    assert second.needs_slot(now) is False  # no slot directory: a test without workers
    out = QueueOut.of(second.status(now))
    assert (out.max_smtp_out, out.total_max_smtp_out, out.workers) == (1, 1, 2)
    assert out.total_msg_rate == 2.0
    assert out.msg_rate == 1.0


def test_slots_are_held_by_one_connection_at_a_time_across_workers(tmp_path: Path) -> None:
    """Each worker opens the slot files itself: a lock held by one keeps the other out."""
    first = Slots(tmp_path, "example.com", "default", 0)
    second = Slots(tmp_path, "example.com", "default", 1)
    held = first.take(1)
    assert held is not None
    assert second.take(1) is None
    Slots.give(held)
    again = second.take(1)
    assert again is not None
    other = first.take(2)  # cap 2: the other slot is free
    assert other is not None
    assert first.take(2) is None
    Slots.give(again)
    Slots.give(other)
    assert Slots(tmp_path, "example.org", "default", 0).take(1) is not None

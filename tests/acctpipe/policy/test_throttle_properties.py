"""Properties of the throttle controller over generated event streams (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acctpipe.policy.throttle import PairBounds, ThrottleController
from acctpipe.policy.types import Event, ThrottleDecision
from tests.acctpipe.policy._events import (
    BARE_421,
    BLOCKED_554,
    DEFER_421,
    GMAIL_4728,
    QUEUE_BLOCKED,
    RATE_LIMIT_TEXT,
    at,
)

pytestmark = pytest.mark.slow  # every test here takes over a second

REPLIES = {
    "d": {},
    "t-defer": DEFER_421,
    "t-4728": GMAIL_4728,
    "t-text": RATE_LIMIT_TEXT,
    "t-421": BARE_421,
    "b-block": BLOCKED_554,
    "tq-block": QUEUE_BLOCKED,
    "f": {},
}
KINDS = ("d",) * 8 + tuple(sorted(REPLIES))  # mostly deliveries, so that pairs also ramp
PAIRS = (("example.com", "v1"), ("example.com", "v2"), ("example.org", "v1"))

# One step of simulated time: how far the clock moves, then what arrives (kind, pair, count).
steps = st.lists(
    st.tuples(
        st.floats(0.1, 120.0),
        st.lists(
            st.tuples(st.sampled_from(KINDS), st.sampled_from(PAIRS), st.integers(1, 8)),
            max_size=4,
        ),
    ),
    max_size=30,
)
pair_bounds = st.builds(
    PairBounds,
    ceiling=st.sampled_from((0.05, 1.0, 10.0, 30.0, 500.0, math.inf)),
    adaptive=st.booleans(),
    backoff_min=st.floats(1.0, 600.0),
    backoff_max=st.floats(1.0, 86400.0),
    scale_factor=st.floats(1.0, 4.0),
)


def play(
    plan: list[tuple[float, list[tuple[str, tuple[str, str], int]]]], b: PairBounds
) -> tuple[list[ThrottleDecision], set[str]]:
    """Feed ``plan`` to a fresh controller, deciding after every step; decisions and ids seen."""
    c = ThrottleController()
    t, seen, out = 0.0, set(), []
    for advance, arrivals in plan:
        events = []
        for kind, (queue, vmta), count in arrivals:
            type_ = kind.split("-")[0]
            for i in range(count):
                event_id = f"{kind}@{t:.3f}#{queue}/{vmta}#{i}"
                seen.add(event_id)
                when = at(t - i * advance / (count + 1))
                fields = {
                    "queue": "" if type_ == "f" else queue,
                    "vmta": "" if type_ == "f" else vmta,
                }
                events.append(
                    Event(event_id, type_, when, rcpt=f"u{i}@{queue}", **fields, **REPLIES[kind])
                )
        c.observe(events)
        t += advance
        out += c.decide(at(t), lambda q, v: b)
    return out, seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, pair_bounds)
def test_decided_rates_stay_within_floor_and_ceiling(plan: list, b: PairBounds) -> None:  # type: ignore[type-arg]
    """Every rate decided lies in [min(floor, ceiling), ceiling]; pauses in the backoff bounds."""
    decisions, seen = play(plan, b)
    floor = min(0.1, b.ceiling)
    for d in decisions:
        assert b.adaptive
        if d.rate is not None:
            assert floor - 1e-12 <= d.rate <= b.ceiling
        if d.action == "pause":
            # The pause itself is pause_s; a decision that also carries the slow rate in
            # force lasts as long as that override (docs/policy.md), never less.
            paused = d.evidence["pause_s"]
            assert min(b.backoff_min, b.backoff_max) - 1e-6 <= paused <= b.backoff_max + 1e-6
            length = (d.expires_at - d.decided_at).total_seconds()
            assert length == pytest.approx(paused) if d.rate is None else length >= paused
        if d.action == "normal":
            assert d.rate is None
        assert set(d.event_ids) <= seen
        assert len(d.event_ids) <= 5
        assert all(math.isfinite(v) for v in d.evidence.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, pair_bounds)
def test_same_plan_same_decisions(plan: list, b: PairBounds) -> None:  # type: ignore[type-arg]
    """Two controllers given the same events and times decide the same."""
    assert play(plan, b)[0] == play(plan, b)[0]

"""A simulated receiver that defers above 10 msg/s while we would send at 30 msg/s.

Sans-IO: simulated time in 0.1 s steps, a token bucket for the receiver, a queue of
messages for the sender (a deferred message goes back in the queue: nothing is
lost), and the controller observing every attempt and deciding once a second. The
end-to-end version with real sockets lives with the feedback loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest

from acctpipe.policy.throttle import ThrottleController
from acctpipe.policy.types import Event, ThrottleDecision
from tests.acctpipe.policy._events import DEFER_421, at, bounds

CEILING = 30.0
LIMIT = 10.0  # the receiver's rate, msg/s
STEP = 0.1


@dataclass
class Run:
    """What happened: decisions, per-second sending rates, attempts and deferrals."""

    decisions: list[ThrottleDecision] = field(default_factory=list)
    rates: list[tuple[float, float]] = field(default_factory=list)  # (time, rate in force)
    attempts: int = 0
    deferrals: list[float] = field(default_factory=list)
    delivered: int = 0


def simulate(messages: int, seconds: float, limit_until: float) -> Run:
    """Send ``messages`` for ``seconds``; the receiver limits to 10 msg/s until ``limit_until``."""
    c = ThrottleController()
    b = bounds(ceiling=CEILING)
    queue = deque(range(messages))
    run = Run()
    rate, credit = CEILING, 0.0
    tokens, last = LIMIT, 0.0
    for tick in range(int(seconds / STEP)):
        t = tick * STEP
        credit = min(credit + rate * STEP, rate * STEP + 1.0)  # no saving up while idle
        tokens = min(LIMIT, tokens + (t - last) * LIMIT)
        last = t
        events = []
        while credit >= 1.0 and queue:
            credit -= 1.0
            n = queue.popleft()
            run.attempts += 1
            attempt = f"acct.csv:{run.attempts}"
            common = {"rcpt": f"u{n}@example.com", "queue": "example.com", "vmta": "v1"}
            if t >= limit_until or tokens >= 1.0:
                tokens -= 1.0
                run.delivered += 1
                events.append(Event(attempt, "d", at(t), **common))
            else:
                run.deferrals.append(t)
                queue.append(n)  # retried later: a deferral loses nothing
                events.append(Event(attempt, "t", at(t), **common, **DEFER_421))
        c.observe(events)
        if tick % 10 == 9:
            for d in c.decide(at(t), lambda q, v: b):
                run.decisions.append(d)
                rate = CEILING if d.action == "normal" else (d.rate or rate)
        run.rates.append((t, rate))
    return run


@pytest.mark.slow
def test_controller_converges_below_the_receivers_rate_then_ramps_back() -> None:
    """The pair drops below 10 msg/s within seconds, defers rarely, and returns to normal after."""
    run = simulate(messages=12_000, seconds=900, limit_until=400)
    first_below = next(t for t, r in run.rates if r <= LIMIT)
    limited = [r for t, r in run.rates if first_below <= t < 400]
    early = [t for t in run.deferrals if t < 60]
    print(  # the figures for the notes (pytest -s)
        f"\nbelow {LIMIT:g} msg/s after {first_below:.1f} s; deferrals: {len(early)} in the first"
        f" minute, {len(run.deferrals)} in all of {run.attempts} attempts;"
        f" {len(run.decisions)} decisions; delivered {run.delivered}"
    )
    assert first_below < 10
    assert len(early) <= 40
    # AIMD probes at most one ramp step (10% of 30 = 3 msg/s) above the limit.
    assert max(limited) <= LIMIT + 0.1 * CEILING + 1e-9
    assert len(run.deferrals) <= 0.02 * run.attempts
    # Once the receiver stops limiting, clean windows ramp the pair back to normal.
    after = [d for d in run.decisions if d.decided_at >= at(400)]
    assert after[-1].action == "normal"
    assert all(d.action in ("ramp", "normal") for d in after)
    assert run.rates[-1][1] == CEILING
    assert run.delivered == 12_000  # nothing lost


def test_scenario_is_deterministic() -> None:
    """The same simulation twice gives the same decisions."""
    assert simulate(2000, 200, 100).decisions == simulate(2000, 200, 100).decisions

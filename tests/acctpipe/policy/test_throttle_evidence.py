"""A decision lists the events it counted: no fewer, no others, and says when it cuts.

The windows count by time bucket (1/60 of the window); the ids a decision lists
must come from exactly those buckets, so "3 matching in 60 s" names 3 events.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acctpipe.policy.throttle import ThrottleController
from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore
from tests.acctpipe._cli import run_cli
from tests.acctpipe.policy._events import GMAIL_4728, at, bounds, event
from tests.acctpipe.sqlstore._decisions import decision as suppression

PAIR = {"queue": "example.com", "vmta": "v1"}
SAMPLE = 5  # the default table's `sample`


def _counted(decision: ThrottleDecision) -> int:
    return int(decision.evidence.get("count", decision.evidence.get("matched", 0)))


def _decide(c: ThrottleController, seconds: float) -> list[ThrottleDecision]:
    chosen = bounds()
    return c.decide(at(seconds), lambda queue, vmta: chosen)


def test_an_event_at_the_windows_old_edge_is_listed_when_it_is_counted() -> None:
    """Three 4.7.28 deferrals in the last minute, the first just inside the minute's
    oldest bucket, make a decision that counts 3 and lists those 3."""
    c = ThrottleController()
    times = (0.1, 30.0, 59.0)
    c.observe(
        event("t", s, GMAIL_4728, event_id=f"t@{s:g}", rcpt=f"u{i}@example.com", **PAIR)
        for i, s in enumerate(times)
    )
    (decision,) = _decide(c, 60.5)
    assert decision.rule == "rate-limited-4.7.28"
    assert _counted(decision) == 3
    assert decision.event_ids == ("t@0.1", "t@30", "t@59")
    assert decision.events_caption() == "events"


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.lists(st.floats(0.0, 9.99), min_size=0, max_size=6),  # offsets within a step
            st.sampled_from(("t", "d")),
        ),
        min_size=1,
        max_size=12,
    ),
    shuffle=st.randoms(use_true_random=False),
)
def test_every_decision_lists_the_events_it_counted(
    steps: list[tuple[list[float], str]], shuffle: random.Random
) -> None:
    """Whatever the timing and arrival order of deferrals and deliveries, each decision
    lists as many ids as it counted (the newest `sample` when it counted more), each
    one a matching event logged after the pair's previous decision."""
    c = ThrottleController()
    seen: dict[str, float] = {}
    last_decision = -1.0
    for step, (offsets, kind) in enumerate(steps):
        base = step * 10.0
        batch = [
            event(
                kind,
                base + offset,
                GMAIL_4728 if kind == "t" else None,
                event_id=f"{kind}{step}.{n}",
                rcpt=f"u{n}@example.com",
                **PAIR,
            )
            for n, offset in enumerate(offsets)
        ]
        shuffle.shuffle(batch)  # rows of one batch arrive in any order
        c.observe(batch)
        seen.update({e.event_id: e.time.timestamp() - at(0).timestamp() for e in batch})
        now = base + 10.0
        for decision in _decide(c, now):
            counted = _counted(decision)
            assert len(decision.event_ids) == min(counted, SAMPLE), decision
            assert len(set(decision.event_ids)) == len(decision.event_ids)
            assert all(seen[i] > last_decision for i in decision.event_ids), decision
            if counted <= SAMPLE:
                assert decision.events_caption() == "events"
            last_decision = now


@pytest.mark.slow
def test_suppress_check_says_when_it_shows_only_part_of_the_evidence(tmp_path: Path) -> None:
    """`suppress check` lists a suppression's event ids and says "10 of 12 shown" when
    it cuts the list, instead of passing 10 off as all of them."""
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    engine = open_database(url)
    try:
        ids = tuple(f"acct.csv:{n}" for n in range(12))
        SuppressionStore(engine).apply(
            [suppression("ann@example.com", "soft-bounce-repeated", events=ids)]
        )
    finally:
        engine.dispose()
    check = run_cli("suppress", "check", "ann@example.com", "--database-url", url)
    assert check.returncode == 0, check.stderr
    assert f"  events (10 of 12 shown): {', '.join(ids[:10])}" in check.stdout.splitlines()

"""Properties of decide_suppressions over generated events (hypothesis)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acctpipe.policy.suppression import (
    SuppressionPolicy,
    decide_suppressions,
    default_suppression_policy,
)
from acctpipe.policy.types import Event
from tests.acctpipe.policy._events import T0

pytestmark = pytest.mark.slow  # every test here takes over a second

POLICY = default_suppression_policy()
NOW = T0 + timedelta(days=10)
ADDRESSES = ("ann@example.com", "ANN@Example.com.", "bob@example.net", "<cy@bücher.example>", "x@")

_ids = st.integers(min_value=0, max_value=10**6).map(lambda n: f"acct.csv:{n}")


@st.composite
def events(
    draw: st.DrawFn,
    types: tuple[str, ...] = ("d", "b", "rb", "t", "tq", "f", "rs"),
    classes: tuple[str, ...] = ("", "hard", "soft", "spam", "complaint", "unknown"),
) -> Event:
    """One accounting event about one of a few addresses within the last ten days."""
    return Event(
        event_id=draw(_ids),
        type=draw(st.sampled_from(types)),
        time=T0 + timedelta(seconds=draw(st.integers(0, 10 * 86400))),
        rcpt=draw(st.sampled_from(ADDRESSES)),
        sender=draw(st.sampled_from(("", "news@shop.example", "a@other.example"))),
        cls=draw(st.sampled_from(classes)),
        category=draw(st.sampled_from(("quota-issues", "spam-related", "bad-mailbox"))),
        job_id=draw(st.sampled_from(("", "job-1", "job-2"))),
    )


def _unique(rows: list[Event]) -> list[Event]:
    """Events with distinct ids (an id names one row)."""
    return list({e.event_id: e for e in rows}.values())


policies = st.builds(
    lambda scope, count, records: replace(
        POLICY, hard_scope=scope, soft_scope=scope, soft_count=count, soft_records=records
    ),
    st.sampled_from(("global", "sender-domain", "job")),
    st.integers(1, 4),
    st.sampled_from((("b", "rb"), ("b", "rb", "t"))),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(events(types=("b", "rb", "t", "tq", "rs", "d"), classes=("spam", "unknown"))), policies
)
def test_spam_and_unknown_rows_never_produce_a_decision(
    rows: list[Event], policy: SuppressionPolicy
) -> None:
    """However many spam-class or unknown failures (and deliveries) come, nothing is suppressed."""
    rows = _unique(rows)
    assert decide_suppressions(rows, dict.fromkeys(ADDRESSES, rows), policy, NOW) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 5 * 86400), max_size=20), st.integers(1, 3600), policies)
def test_a_delivery_after_soft_failures_resets_them(
    offsets: list[int], gap: int, policy: SuppressionPolicy
) -> None:
    """Soft failures followed by a delivery to the address never suppress it, whatever the count."""
    failures = [
        Event(f"f{n}", "b", T0 + timedelta(seconds=s), rcpt="bob@example.net", cls="soft")
        for n, s in enumerate(offsets)
    ]
    last = max(offsets, default=0)
    delivery = Event("d", "d", T0 + timedelta(seconds=last + gap), rcpt="bob@example.net")
    batch = [*failures, delivery]
    now = delivery.time + timedelta(seconds=1)
    decisions = decide_suppressions(batch, {"bob@example.net": batch}, policy, now)
    assert decisions == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), max_size=40), st.lists(events(), max_size=40), policies)
def test_decisions_reference_only_input_events(
    batch: list[Event], older: list[Event], policy: SuppressionPolicy
) -> None:
    """Every event id a decision names was in the batch or the history given."""
    batch = _unique(batch)
    known = {e.event_id for e in batch}
    older = [e for e in _unique(older) if e.event_id not in known]
    history = dict.fromkeys(ADDRESSES, older)
    decisions = decide_suppressions(batch, history, policy, NOW)
    given_ids = known | {e.event_id for e in older}
    for decision in decisions:
        assert decision.event_ids
        assert set(decision.event_ids) <= given_ids
        assert decision.decided_at == NOW


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), max_size=40), st.randoms(use_true_random=False), policies)
def test_same_input_in_any_order_gives_the_same_decisions(
    rows: list[Event], rng: random.Random, policy: SuppressionPolicy
) -> None:
    """The output depends on the events, not on the order they come in."""
    rows = _unique(rows)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    first = decide_suppressions(rows, dict.fromkeys(ADDRESSES, rows), policy, NOW)
    again = decide_suppressions(shuffled, dict.fromkeys(reversed(ADDRESSES), shuffled), policy, NOW)
    assert first == again
    assert len({(d.address, d.scope) for d in first}) == len(first)

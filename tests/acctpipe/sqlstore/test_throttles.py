"""Throttle decisions: recorded with evidence, the one in force per pair, the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from acctpipe.policy.types import ThrottleAction, ThrottleDecision
from acctpipe.sqlstore import throttle_decisions
from acctpipe.sqlstore.suppressions import ThrottleStore
from tests.acctpipe.sqlstore._decisions import T0


def _decision(
    queue: str = "gmail.com",
    vmta: str = "ip-1",
    action: ThrottleAction = "slow",
    *,
    at: float = 0,
    minutes: float = 30,
    rate: float | None = 5.0,
) -> ThrottleDecision:
    decided = T0 + timedelta(minutes=at)
    return ThrottleDecision(
        queue=queue,
        vmta=vmta,
        action=action,
        rule="deferral-burst",
        decided_at=decided,
        expires_at=decided + timedelta(minutes=minutes),
        rate=rate,
        max_smtp_out=2,
        evidence={"deferrals": 12, "window_s": 60.0},
        event_ids=("f1:10", "f1:20"),
        detail="12 deferrals 421 4.7.0 in 60 s",
    )


def test_record_round_trips_the_decision(engine: Engine) -> None:
    """What is recorded comes back equal, evidence and sample events included."""
    store = ThrottleStore(engine)
    original = _decision()
    new_id = store.record(original)
    (stored,) = store.history("gmail.com")
    assert stored.id == new_id
    assert stored.decision == original


def test_active_is_the_newest_unexpired_decision_per_pair(engine: Engine) -> None:
    """Per (queue, vmta) the newest decision is in force until it expires; it supersedes."""
    store = ThrottleStore(engine)
    store.record(_decision(action="pause", at=0, minutes=60))
    store.record(_decision(action="ramp", at=10, minutes=5))
    store.record(_decision(vmta="ip-2", action="slow", at=0, minutes=30))
    store.record(_decision(queue="yahoo.com", action="slow", at=0, minutes=1))
    now = T0 + timedelta(minutes=12)
    active = store.active(now)
    assert [(s.decision.queue, s.decision.vmta, s.decision.action) for s in active] == [
        ("gmail.com", "ip-1", "ramp"),
        ("gmail.com", "ip-2", "slow"),
    ]
    later = store.active(T0 + timedelta(minutes=20))
    # the ramp expired at 15: the older, longer pause does not come back
    assert [(s.decision.vmta, s.decision.action) for s in later] == [("ip-2", "slow")]
    assert store.active(now, queue="yahoo.com") == []
    assert all(s.is_active(now) for s in active)


def test_history_is_newest_first_and_filtered(engine: Engine) -> None:
    """history(queue, vmta, limit) lists that queue's decisions, newest first."""
    store = ThrottleStore(engine)
    for minute in range(5):
        store.record(_decision(at=minute))
    store.record(_decision(vmta="ip-2", at=9))
    times = [s.decision.decided_at for s in store.history("gmail.com", "ip-1", limit=3)]
    assert times == [T0 + timedelta(minutes=m) for m in (4, 3, 2)]
    assert len(store.history("gmail.com")) == 6
    assert store.history("nowhere.example") == []


def test_on_record_runs_inside_the_transaction(engine: Engine) -> None:
    """on_record runs in record()'s transaction with the new id; if it fails, nothing is kept."""
    seen: list[tuple[int, ThrottleDecision, int]] = []

    def hook(conn: Connection, new_id: int, decision: ThrottleDecision) -> None:
        visible = conn.execute(select(func.count()).select_from(throttle_decisions)).scalar_one()
        seen.append((new_id, decision, int(visible)))

    original = _decision()
    new_id = ThrottleStore(engine, on_record=hook).record(original)
    assert seen == [(new_id, original, 1)]

    def failing(conn: Connection, new_id: int, decision: ThrottleDecision) -> None:
        raise RuntimeError("outbox down")

    with pytest.raises(RuntimeError, match="outbox down"):
        ThrottleStore(engine, on_record=failing).record(_decision(at=5))
    assert len(ThrottleStore(engine).history("gmail.com")) == 1

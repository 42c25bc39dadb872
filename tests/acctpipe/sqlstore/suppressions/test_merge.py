"""The rules by which one decision changes one suppression (no database)."""

from __future__ import annotations

from datetime import timedelta

from acctpipe.sqlstore.suppressions._merge import MAX_EVENT_IDS, merge
from acctpipe.sqlstore.suppressions.model import Suppression
from tests.acctpipe.sqlstore._decisions import T0, decision


def _row(reason: str = "hard-bounce", days: float | None = None) -> Suppression:
    state, _ = merge(None, decision(reason=reason, days=days), T0)  # type: ignore[arg-type]
    assert state is not None
    return state


def test_first_decision_adds() -> None:
    """A decision for an unsuppressed pair adds it, with the decision's reason and events."""
    state, change = merge(None, decision(days=30, notify=True), T0)
    assert state is not None
    assert change is not None
    assert change.op == "add"
    assert change.notify
    assert state.expires_at == T0 + timedelta(days=30)
    assert state.event_ids == ("f1:100",)


def test_same_decision_again_changes_nothing() -> None:
    """Re-applying a decision (even with other events) writes no change."""
    row = _row()
    state, change = merge(row, decision(events=("f2:1",)), T0 + timedelta(hours=1))
    assert change is None
    assert state == row


def test_longer_expiry_updates() -> None:
    """A decision that lasts longer (or for good) extends the row: an update."""
    row = _row("soft-bounce-repeated", days=30)
    state, change = merge(row, decision(reason="soft-bounce-repeated", days=60), T0)
    assert change is not None
    assert change.op == "update"
    assert state is not None
    assert state.expires_at == T0 + timedelta(days=60)
    _, forever = merge(row, decision(reason="hard-bounce"), T0)
    assert forever is not None
    assert forever.expires_at is None
    assert forever.reason == "hard-bounce"


def test_shorter_expiry_changes_nothing() -> None:
    """A decision that would end sooner neither shortens the row nor changes its reason."""
    row = _row("hard-bounce")
    assert merge(row, decision(reason="complaint", days=5), T0)[1] is None


def test_weightier_reason_with_equal_expiry_updates_lighter_does_not() -> None:
    """For good + complaint beats for good + hard-bounce; the reverse changes nothing."""
    hard = _row("hard-bounce")
    state, change = merge(hard, decision(reason="complaint", notify=True), T0)
    assert change is not None
    assert change.op == "update"
    assert change.notify
    assert state is not None
    assert state.reason == "complaint"
    assert merge(state, decision(reason="hard-bounce"), T0)[1] is None


def test_event_ids_newest_first_and_capped() -> None:
    """An update puts the new events first and keeps at most MAX_EVENT_IDS."""
    row = _row("soft-bounce-repeated", days=1)
    many = tuple(f"f:{i}" for i in range(MAX_EVENT_IDS + 10))
    state, _ = merge(row, decision(reason="hard-bounce", events=many), T0)
    assert state is not None
    assert state.event_ids == many[:MAX_EVENT_IDS]


def test_remove_needs_a_matching_reason_or_manual() -> None:
    """A soft-bounce reset cannot lift a complaint; a manual removal lifts anything."""
    row = _row("complaint")
    assert merge(row, decision(reason="soft-bounce-repeated", remove=True), T0) == (row, None)
    state, change = merge(row, decision(reason="manual", remove=True), T0)
    assert state is None
    assert change is not None
    assert change.op == "remove"
    assert change.reason == "complaint"
    assert merge(None, decision(remove=True), T0) == (None, None)

"""Building suppression decisions for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acctpipe.policy.types import SuppressionDecision, SuppressionReason

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def decision(
    address: str = "john@example.com",
    reason: SuppressionReason = "hard-bounce",
    *,
    scope: str = "global",
    days: float | None = None,
    at: datetime = T0,
    remove: bool = False,
    notify: bool = False,
    events: tuple[str, ...] = ("f1:100",),
    detail: str = "",
) -> SuppressionDecision:
    """A decision at ``at``, expiring ``days`` later (None: for good)."""
    return SuppressionDecision(
        address=address,
        scope=scope,
        reason=reason,
        event_ids=events,
        decided_at=at,
        expires_at=None if days is None else at + timedelta(days=days),
        notify=notify,
        remove=remove,
        detail=detail,
    )

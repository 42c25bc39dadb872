"""Webhook events: the types a CRM can subscribe to, and the payload each one carries.

A payload follows the Standard Webhooks shape ``{"type", "timestamp", "data"}``
and is dumped once, compactly with sorted keys (:attr:`WebhookEvent.body`): the
outbox stores exactly that text and every delivery attempt signs it unchanged.

* :func:`suppression_events` — from a suppression-list
  :class:`~acctpipe.sqlstore.suppressions.Change`: ``suppression.created`` /
  ``.updated`` / ``.removed``, plus ``complaint`` or ``hard_bounce`` when an add or
  update has that reason;
* :func:`throttle_event` — ``throttle.changed`` from a recorded throttle decision;
* :func:`summary_event` — ``delivery.summary`` from numbers the caller computed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from acctpipe.policy.types import SuppressionReason, ThrottleDecision
from acctpipe.sqlstore.suppressions.model import Change, ChangeOp
from mta.errors import InvalidValueError

__all__ = [
    "EVENT_TYPES",
    "EventType",
    "WebhookEvent",
    "iso",
    "sample_event",
    "summary_event",
    "suppression_events",
    "throttle_event",
]

EventType = Literal[
    "suppression.created",
    "suppression.updated",
    "suppression.removed",
    "complaint",
    "hard_bounce",
    "throttle.changed",
    "delivery.summary",
]
EVENT_TYPES: Final[tuple[EventType, ...]] = (
    "suppression.created",
    "suppression.updated",
    "suppression.removed",
    "complaint",
    "hard_bounce",
    "throttle.changed",
    "delivery.summary",
)
_SUPPRESSION_TYPE: Final[dict[str, EventType]] = {
    "add": "suppression.created",
    "update": "suppression.updated",
    "remove": "suppression.removed",
    "expire": "suppression.removed",
}
# Reasons that also raise an event of their own when an address is (re)suppressed.
_REASON_TYPE: Final[dict[str, EventType]] = {"complaint": "complaint", "hard-bounce": "hard_bounce"}


def iso(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 in UTC with microseconds and a ``Z`` (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event: its ``type``, when it happened, and its ``data`` (JSON values only)."""

    type: EventType
    timestamp: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> str:
        """The payload as compact JSON with sorted keys: the exact text that is signed."""
        payload = {"type": self.type, "timestamp": iso(self.timestamp), "data": dict(self.data)}
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def suppression_events(change: Change) -> list[WebhookEvent]:
    """The events one change-log entry raises (one or two; see the module docstring)."""
    data = {
        "cursor": change.cursor,
        "op": change.op,
        "address": change.address,
        "domain": change.address.rpartition("@")[2],
        "scope": change.scope,
        "reason": change.reason,
        "detail": change.detail,
        "expires_at": iso(change.expires_at),
        "event_ids": list(change.event_ids),
        "changed_at": iso(change.changed_at),
    }
    events = [WebhookEvent(_SUPPRESSION_TYPE[change.op], change.changed_at, data)]
    extra = _REASON_TYPE.get(change.reason)
    if extra is not None and not change.is_tombstone:
        events.append(WebhookEvent(extra, change.changed_at, data))
    return events


def throttle_event(decision_id: int, decision: ThrottleDecision) -> WebhookEvent:
    """``throttle.changed`` for the decision stored with id ``decision_id``."""
    data = {
        "id": decision_id,
        "queue": decision.queue,
        "vmta": decision.vmta,
        "action": decision.action,
        "rule": decision.rule,
        "rate": decision.rate,
        "max_smtp_out": decision.max_smtp_out,
        "decided_at": iso(decision.decided_at),
        "expires_at": iso(decision.expires_at),
        "evidence": dict(decision.evidence),
        "detail": decision.detail,
        "event_ids": list(decision.event_ids),
    }
    return WebhookEvent("throttle.changed", decision.decided_at, data)


def summary_event(data: Mapping[str, Any], *, at: datetime | None = None) -> WebhookEvent:
    """``delivery.summary`` carrying ``data`` as given (ValueError if it is not JSON).

    ``at`` (default now) is the event's timestamp. Optional keys ``domain``,
    ``vmta`` and ``queue`` make the summary subject to subscription filters.
    """
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"delivery.summary data is not plain JSON: {exc}") from None
    return WebhookEvent("delivery.summary", at or datetime.now(UTC), dict(data))


def sample_event(event_type: str, now: datetime | None = None) -> WebhookEvent:
    """A realistic event of ``event_type`` (for ``acctpipe webhook test`` and the docs)."""
    at = now or datetime.now(UTC)
    if event_type not in EVENT_TYPES:
        raise InvalidValueError(
            f"unknown event type {event_type!r}: one of {', '.join(EVENT_TYPES)}"
        )
    if event_type == "throttle.changed":
        decision = ThrottleDecision(
            queue="gmail.com",
            vmta="ip-1",
            action="slow",
            rule="deferral-burst",
            decided_at=at,
            expires_at=at + timedelta(minutes=30),
            rate=5.0,
            max_smtp_out=2,
            evidence={"deferrals": 12.0, "window_s": 60.0},
            event_ids=("acct-1.csv:1024",),
            detail="12 deferrals 421 4.7.0 in 60 s",
        )
        return throttle_event(1, decision)
    if event_type == "delivery.summary":
        return summary_event(
            {"period": "1h", "domain": "gmail.com", "delivered": 9800, "bounced": 150},
            at=at,
        )
    samples: dict[str, tuple[ChangeOp, SuppressionReason]] = {
        "suppression.created": ("add", "manual"),
        "suppression.updated": ("update", "soft-bounce-repeated"),
        "suppression.removed": ("remove", "manual"),
        "complaint": ("add", "complaint"),
        "hard_bounce": ("add", "hard-bounce"),
    }
    op, reason = samples[event_type]
    change = Change(
        cursor=1,
        op=op,
        address="john@example.com",
        scope="global",
        reason=reason,
        changed_at=at,
        detail="sample event from acctpipe webhook test",
        event_ids=("acct-1.csv:2048",),
    )
    return next(e for e in suppression_events(change) if e.type == event_type)

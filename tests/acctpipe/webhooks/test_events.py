"""Event payloads: which changes raise which events, and the exact JSON that is signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from acctpipe.policy.types import SuppressionReason, ThrottleDecision
from acctpipe.sqlstore.suppressions import Change, ChangeOp
from acctpipe.webhooks import (
    EVENT_TYPES,
    WebhookEvent,
    sample_event,
    summary_event,
    suppression_events,
    throttle_event,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _change(op: ChangeOp, reason: SuppressionReason) -> Change:
    return Change(
        cursor=42,
        op=op,
        address="john@mail.example.com",
        scope="global",
        reason=reason,
        changed_at=T0,
        expires_at=T0 + timedelta(days=30),
        detail="550 5.1.1 user unknown",
        event_ids=("acct-1.csv:100",),
    )


@pytest.mark.parametrize(
    ("op", "reason", "types"),
    [
        ("add", "manual", ["suppression.created"]),
        ("update", "soft-bounce-repeated", ["suppression.updated"]),
        ("remove", "manual", ["suppression.removed"]),
        ("expire", "soft-bounce-repeated", ["suppression.removed"]),
        ("add", "complaint", ["suppression.created", "complaint"]),
        ("update", "complaint", ["suppression.updated", "complaint"]),
        ("add", "hard-bounce", ["suppression.created", "hard_bounce"]),
        ("remove", "complaint", ["suppression.removed"]),
        ("expire", "hard-bounce", ["suppression.removed"]),
    ],
)
def test_suppression_change_types(
    op: ChangeOp, reason: SuppressionReason, types: list[str]
) -> None:
    """add → created, update → updated, remove/expire → removed; complaint/hard bounce: one more."""
    assert [e.type for e in suppression_events(_change(op, reason))] == types


def test_suppression_payload_fields() -> None:
    """A suppression event carries cursor, op, address, domain, scope, reason, times, evidence."""
    (event,) = suppression_events(_change("add", "manual"))
    payload = json.loads(event.body)
    assert payload == {
        "type": "suppression.created",
        "timestamp": "2026-11-01T12:00:00.000000Z",
        "data": {
            "cursor": 42,
            "op": "add",
            "address": "john@mail.example.com",
            "domain": "mail.example.com",
            "scope": "global",
            "reason": "manual",
            "detail": "550 5.1.1 user unknown",
            "expires_at": "2026-12-01T12:00:00.000000Z",
            "event_ids": ["acct-1.csv:100"],
            "changed_at": "2026-11-01T12:00:00.000000Z",
        },
    }


def test_body_is_compact_json_with_sorted_keys() -> None:
    """The signed body has no spaces and sorted keys, so it is the same bytes every time."""
    event = WebhookEvent("delivery.summary", T0, {"b": 1, "a": [1, 2]})
    assert event.body == (
        '{"data":{"a":[1,2],"b":1},"timestamp":"2026-11-01T12:00:00.000000Z",'
        '"type":"delivery.summary"}'
    )


def test_throttle_payload() -> None:
    """throttle.changed carries the stored id, the pair, the action, limits, times and evidence."""
    decision = ThrottleDecision(
        queue="gmail.com",
        vmta="ip-1",
        action="pause",
        rule="block-burst",
        decided_at=T0,
        expires_at=T0 + timedelta(hours=1),
        evidence={"blocks": 7.0},
        event_ids=("a:1",),
        detail="7 blocks",
    )
    payload = json.loads(throttle_event(9, decision).body)
    assert payload["type"] == "throttle.changed"
    assert payload["data"] == {
        "id": 9,
        "queue": "gmail.com",
        "vmta": "ip-1",
        "action": "pause",
        "rule": "block-burst",
        "rate": None,
        "max_smtp_out": None,
        "decided_at": "2026-11-01T12:00:00.000000Z",
        "expires_at": "2026-11-01T13:00:00.000000Z",
        "evidence": {"blocks": 7.0},
        "detail": "7 blocks",
        "event_ids": ["a:1"],
    }


def test_summary_takes_plain_json_only() -> None:
    """delivery.summary carries the caller's numbers; anything that is not JSON is refused."""
    event = summary_event({"delivered": 10, "bounced": 1}, at=T0)
    assert json.loads(event.body)["data"] == {"delivered": 10, "bounced": 1}
    with pytest.raises(ValueError, match="not plain JSON"):
        summary_event({"when": T0})
    with pytest.raises(ValueError, match="not plain JSON"):
        summary_event({"ratio": float("nan")})


def test_every_type_has_a_sample() -> None:
    """`webhook test` can send a sample of every event type; an unknown type is refused."""
    for event_type in EVENT_TYPES:
        assert sample_event(event_type, T0).type == event_type
    with pytest.raises(ValueError, match="unknown event type 'bounce'"):
        sample_event("bounce")

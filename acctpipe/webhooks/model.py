"""What the webhook store hands out: subscriptions, outbox messages and delivery attempts.

Message states (``webhook_messages.status``)::

    pending ──2xx──────────────▶ delivered
       │  ╰─other / timeout──▶ pending (next_attempt_at = now + schedule[n] ± jitter)
       ├─retry budget spent, or 410 Gone ──▶ dead
       ╰─subscription disabled or deleted ─▶ cancelled
    delivered | dead | cancelled ──replay──▶ pending (same msg_id, same body)

Secrets never appear in a ``repr``: a subscription printed into a log shows
how many secrets it has, not what they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Row

from acctpipe.errors import UnknownSubscriptionError

__all__ = [
    "MESSAGE_STATUSES",
    "Attempt",
    "Message",
    "MessageStatus",
    "SigningSecret",
    "Subscription",
    "UnknownSubscriptionError",
    "secrets_from_json",
    "secrets_to_json",
    "subscription_from_row",
]

MessageStatus = Literal["pending", "delivered", "dead", "cancelled"]
MESSAGE_STATUSES: Final[tuple[MessageStatus, ...]] = ("pending", "delivered", "dead", "cancelled")


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A ``whsec_…`` secret, valid until ``expires_at`` (None: until rotated away)."""

    secret: str = field(repr=False)
    expires_at: datetime | None = None

    def is_valid(self, now: datetime) -> bool:
        """True while this secret still signs deliveries."""
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Subscription:
    """Where events of ``event_types`` (``"*"``: all) that pass ``filter`` are POSTed.

    ``secrets`` are newest first; the first is the current one.
    """

    id: int
    url: str = field(repr=False)  # may hold user:pass@; shown only through redact_url
    event_types: tuple[str, ...]
    filter: Mapping[str, list[str]]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    secrets: tuple[SigningSecret, ...] = field(default=(), repr=False)

    @property
    def secret(self) -> str:
        """The current (newest) secret."""
        return self.secrets[0].secret

    def active_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery at ``now``, newest first."""
        return [s.secret for s in self.secrets if s.is_valid(now)]

    def wants(self, event_type: str) -> bool:
        """True when ``event_type`` is one this subscription asked for."""
        return "*" in self.event_types or event_type in self.event_types


@dataclass(frozen=True, slots=True)
class Message:
    """One outbox row: event ``msg_id`` (the ``webhook-id``) for one subscription."""

    id: int
    msg_id: str
    subscription_id: int
    event_type: str
    body: str
    created_at: datetime
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    locked_until: datetime | None = None
    locked_by: str | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None

    @property
    def payload(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt: the HTTP status (None: no response) or the error."""

    id: int
    message_id: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    node: str


def secrets_to_json(secrets: tuple[SigningSecret, ...]) -> list[dict[str, str | None]]:
    """The ``webhook_subscriptions.secrets`` column value."""
    return [
        {"secret": s.secret, "expires_at": s.expires_at.isoformat() if s.expires_at else None}
        for s in secrets
    ]


def secrets_from_json(value: list[dict[str, Any]]) -> tuple[SigningSecret, ...]:
    """Parse the ``secrets`` column."""
    return tuple(
        SigningSecret(
            str(item["secret"]),
            datetime.fromisoformat(item["expires_at"]) if item.get("expires_at") else None,
        )
        for item in value
    )


def subscription_from_row(row: Row[Any]) -> Subscription:
    """A :class:`Subscription` from a ``webhook_subscriptions`` row."""
    return Subscription(
        id=row.id,
        url=row.url,
        event_types=tuple(row.event_types),
        filter={str(k): list(v) for k, v in row.filter.items()},
        description=row.description,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        secrets=secrets_from_json(row.secrets),
    )

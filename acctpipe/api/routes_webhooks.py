"""``/v1/webhooks``: subscriptions, the outbox's messages and attempts, replay, backlog.

Everything here needs an ``admin`` key: subscriptions carry signing secrets,
and replays send data to outside systems. A subscription's secret is shown
when it is created or rotated, never when it is read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.settings import Services
from acctpipe.redact import redact_url
from acctpipe.webhooks.events import EVENT_TYPES
from acctpipe.webhooks.model import (
    Attempt,
    Message,
    MessageStatus,
    Subscription,
    UnknownSubscriptionError,
)
from acctpipe.webhooks.store import WebhookStore
from mta.errors import BadFilterError

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/webhooks", tags=["webhooks"], dependencies=[Depends(require("admin"))]
)
Svc = Annotated[Services, Depends(services)]
MAX_ID = 2**63 - 1  # the widest id either backend stores
SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID)]


class SubscriptionIn(BaseModel):
    """A new subscription. ``filter`` keys: domains, scopes, reasons, vmtas, queues."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, examples=["https://crm.example.com/hooks/acctpipe"])
    event_types: list[str] = Field(min_length=1, examples=[["complaint", "suppression.created"]])
    filter: dict[str, list[str]] = Field(
        default_factory=dict, examples=[{"domains": ["*.example"]}]
    )
    description: str = Field(default="", max_length=1000)
    secret: str | None = Field(default=None, description="whsec_…; default: a new one")


class SubscriptionPatch(BaseModel):
    """Fields to change (absent: keep)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1)
    filter: dict[str, list[str]] | None = None
    description: str | None = Field(default=None, max_length=1000)
    enabled: bool | None = None


class SubscriptionOut(BaseModel):
    """A subscription (its secrets are never shown here)."""

    id: int
    url: str = Field(description="where events go; a user name and password in it show as ***")
    event_types: list[str]
    filter: dict[str, list[str]]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    secrets: int = Field(description="how many secrets sign deliveries now (2 while rotating)")

    @classmethod
    def of(cls, s: Subscription, now: datetime) -> SubscriptionOut:
        """The API shape of ``s``."""
        return cls(
            id=s.id,
            url=redact_url(s.url),
            event_types=list(s.event_types),
            filter={k: list(v) for k, v in s.filter.items()},
            description=s.description,
            enabled=s.enabled,
            created_at=s.created_at,
            updated_at=s.updated_at,
            secrets=len(s.active_secrets(now)),
        )


class SecretOut(BaseModel):
    """A subscription with its current secret: shown once, store it now."""

    subscription: SubscriptionOut
    secret: str


class MessageOut(BaseModel):
    """One outbox message (an event for one subscription) and its delivery state."""

    id: int
    msg_id: str = Field(description="the webhook-id header: stable across retries and replays")
    subscription_id: int
    event_type: str
    status: MessageStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    payload: Any

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        """The API shape of ``m``."""
        return cls(
            id=m.id,
            msg_id=m.msg_id,
            subscription_id=m.subscription_id,
            event_type=m.event_type,
            status=m.status,
            attempts=m.attempts,
            created_at=m.created_at,
            next_attempt_at=m.next_attempt_at,
            last_attempt_at=m.last_attempt_at,
            last_status_code=m.last_status_code,
            last_error=None if m.last_error is None else redact_url(m.last_error),
            delivered_at=m.delivered_at,
            payload=m.payload,
        )


class AttemptOut(BaseModel):
    """One delivery attempt."""

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    node: str

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        """The API shape of ``a``."""
        return cls(
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            error=None if a.error is None else redact_url(a.error),
            duration_ms=a.duration_ms,
            node=a.node,
        )


class MessagePage(BaseModel):
    """Messages by id; pass ``next`` as ``after_id`` for the next page."""

    items: list[MessageOut]
    next: int | None


class ReplayIn(BaseModel):
    """Which messages to deliver again: by webhook-id, or by time range (and subscription)."""

    model_config = ConfigDict(extra="forbid")

    msg_ids: list[str] | None = Field(default=None, max_length=10_000)
    since: datetime | None = None
    until: datetime | None = None
    subscription_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _something(self) -> ReplayIn:
        nothing = self.since is None and self.until is None and self.subscription_id is None
        if not self.msg_ids and nothing:
            raise BadFilterError("give msg_ids, since/until or subscription_id")
        return self


class ReplayOut(BaseModel):
    """How many messages were queued again."""

    replayed: int


def _store(svc: Services) -> WebhookStore:
    if svc.webhooks is None:
        raise HTTPException(503, "webhooks are not configured on this server")
    return svc.webhooks


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/event-types", responses=problems())
def event_types() -> list[str]:
    """The event types a subscription can ask for (``*``: all of them)."""
    return list(EVENT_TYPES)


@router.get("/subscriptions", responses=problems(503))
def list_subscriptions(svc: Svc) -> list[SubscriptionOut]:
    """Every live subscription."""
    now = _now()
    return [SubscriptionOut.of(s, now) for s in _store(svc).list()]


@router.post("/subscriptions", status_code=201, responses=problems(422, 503))
def create_subscription(body: SubscriptionIn, svc: Svc) -> SecretOut:
    """Subscribe a URL; the answer holds the signing secret (the only time it is shown)."""
    created = _store(svc).create(
        body.url,
        body.event_types,
        filter=body.filter,
        description=body.description,
        secret=body.secret,
    )
    return SecretOut(subscription=SubscriptionOut.of(created, _now()), secret=created.secret)


def _found(svc: Services, subscription_id: int) -> Subscription:
    found = _store(svc).get(subscription_id)
    if found is None or found.deleted_at is not None:
        raise HTTPException(404, f"no webhook subscription with id {subscription_id}")
    return found


@router.get("/subscriptions/{subscription_id}", responses=problems(404, 422, 503))
def get_subscription(subscription_id: SubscriptionId, svc: Svc) -> SubscriptionOut:
    """One subscription."""
    return SubscriptionOut.of(_found(svc, subscription_id), _now())


@router.patch("/subscriptions/{subscription_id}", responses=problems(404, 422, 503))
def update_subscription(
    subscription_id: SubscriptionId, body: SubscriptionPatch, svc: Svc
) -> SubscriptionOut:
    """Change a subscription's URL, event types, filter, description or enabled flag."""
    _found(svc, subscription_id)
    try:
        updated = _store(svc).update(subscription_id, **body.model_dump(exclude_none=True))
    except UnknownSubscriptionError as exc:
        raise HTTPException(404, str(exc)) from exc
    return SubscriptionOut.of(updated, _now())


@router.delete(
    "/subscriptions/{subscription_id}", status_code=204, responses=problems(404, 422, 503)
)
def delete_subscription(subscription_id: SubscriptionId, svc: Svc) -> Response:
    """Delete a subscription; its pending messages are cancelled."""
    _found(svc, subscription_id)
    _store(svc).delete(subscription_id)
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/rotate-secret", responses=problems(404, 422, 503))
def rotate_secret(
    subscription_id: SubscriptionId,
    svc: Svc,
    grace_hours: Annotated[float, Query(ge=0, le=24 * 30)] = 24,
) -> SecretOut:
    """A new secret; the old one keeps signing (both signatures sent) for ``grace_hours``."""
    _found(svc, subscription_id)
    secret = _store(svc).rotate_secret(subscription_id, grace=timedelta(hours=grace_hours))
    return SecretOut(
        subscription=SubscriptionOut.of(_found(svc, subscription_id), _now()), secret=secret
    )


@router.get("/messages", responses=problems(422, 503))
def messages(
    svc: Svc,
    status: MessageStatus | None = None,
    subscription_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MessagePage:
    """Outbox messages by id (filter by status, e.g. ``dead`` for the dead letters)."""
    found = _store(svc).messages(
        status=status,
        subscription_id=subscription_id,
        event_type=event_type,
        since=since,
        until=until,
        after_id=after_id,
        limit=limit,
    )
    return MessagePage(
        items=[MessageOut.of(m) for m in found],
        next=found[-1].id if len(found) == limit else None,
    )


@router.get("/messages/{msg_id}", responses=problems(404, 422, 503))
def message(msg_id: str, svc: Svc) -> MessageOut:
    """One message by its webhook-id."""
    found = _store(svc).message(msg_id)
    if found is None:
        raise HTTPException(404, f"no webhook message {msg_id}")
    return MessageOut.of(found)


@router.get("/messages/{msg_id}/attempts", responses=problems(404, 422, 503))
def attempts(msg_id: str, svc: Svc) -> list[AttemptOut]:
    """Every delivery attempt of a message, oldest first."""
    if _store(svc).message(msg_id) is None:
        raise HTTPException(404, f"no webhook message {msg_id}")
    return [AttemptOut.of(a) for a in _store(svc).attempts(msg_id)]


@router.post("/replay", responses=problems(422, 503))
def replay(body: ReplayIn, svc: Svc) -> ReplayOut:
    """Deliver messages again (same webhook-id, fresh retry budget), whatever their status."""
    count = _store(svc).replay(
        body.msg_ids, since=body.since, until=body.until, subscription_id=body.subscription_id
    )
    return ReplayOut(replayed=count)


class BacklogOut(BaseModel):
    """The outbox backlog."""

    pending: int
    delivered: int
    dead: int
    cancelled: int
    due: int
    oldest_pending_age_seconds: float


@router.get("/backlog", responses=problems(503))
def backlog(svc: Svc) -> BacklogOut:
    """Messages per status, how many are due now, and the oldest pending one's age."""
    return BacklogOut(**_store(svc).stats())

"""The worker's database side: claim due messages under a lease, record each outcome.

A lease (``locked_until``, ``locked_by``) is what keeps two workers — two
processes, two nodes on one PostgreSQL — from delivering one message at the
same time. Claiming runs in one short transaction: on PostgreSQL the due rows
are selected ``FOR UPDATE SKIP LOCKED`` (a concurrent claimer skips them
instead of waiting) and stamped with the lease before the commit; on SQLite
the whole claim runs under ``BEGIN IMMEDIATE``, one claimer at a time. A row
is due while ``pending``, ``next_attempt_at <= now`` and its lease is free or
expired. Outcomes are written only while the worker still holds the lease
(``locked_by`` is unique per claim), so a worker that overran its lease cannot
overwrite what the next one recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, insert, or_, select, update

from acctpipe.sqlstore.schema import webhook_attempts, webhook_messages, webhook_subscriptions
from acctpipe.webhooks._tx import writing
from acctpipe.webhooks.model import secrets_from_json

__all__ = ["Claimed", "Outcome", "claim", "finish", "release"]

_M = webhook_messages.c
_S = webhook_subscriptions.c

Verdict = Literal["delivered", "retry", "dead", "gone"]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message this worker holds the lease on, with what it needs to deliver it."""

    id: int
    msg_id: str
    subscription_id: int
    body: str
    attempts: int  # attempts made before this one
    url: str = field(repr=False)  # may hold user:pass@; shown only through redact_url
    secrets: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended and what happens next."""

    verdict: Verdict
    attempted_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None  # for "retry"


def claim(
    engine: Engine, *, now: datetime, until: datetime, batch: int, holder: str
) -> tuple[list[Claimed], int]:
    """Lease up to ``batch`` due messages to ``holder`` until ``until``.

    Messages whose subscription is disabled or deleted are cancelled on the
    way; returns the leased messages and how many were cancelled.
    """
    query = (
        select(
            _M.id,
            _M.msg_id,
            _M.subscription_id,
            _M.body,
            _M.attempts,
            _S.url,
            _S.secrets,
            _S.enabled,
            _S.deleted_at,
        )
        .join_from(webhook_messages, webhook_subscriptions, _M.subscription_id == _S.id)
        .where(
            _M.status == "pending",
            _M.next_attempt_at <= now,
            or_(_M.locked_until.is_(None), _M.locked_until <= now),
        )
        .order_by(_M.next_attempt_at, _M.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=webhook_messages)  # SQLite: ignored
    )
    with writing(engine) as conn:
        rows = conn.execute(query).all()
        live = [r for r in rows if r.enabled and r.deleted_at is None]
        stale = [r.id for r in rows if not (r.enabled and r.deleted_at is None)]
        if stale:
            conn.execute(
                update(webhook_messages)
                .where(_M.id.in_(stale))
                .values(status="cancelled", locked_until=None, locked_by=None)
            )
        if live:
            conn.execute(
                update(webhook_messages)
                .where(_M.id.in_([r.id for r in live]))
                .values(locked_until=until, locked_by=holder)
            )
    return [_claimed(r, now) for r in live], len(stale)


def _claimed(row: Any, now: datetime) -> Claimed:
    secrets = tuple(s.secret for s in secrets_from_json(row.secrets) if s.is_valid(now))
    return Claimed(
        id=row.id,
        msg_id=row.msg_id,
        subscription_id=row.subscription_id,
        body=row.body,
        attempts=row.attempts,
        url=row.url,
        secrets=secrets,
    )


def finish(engine: Engine, message: Claimed, outcome: Outcome, *, holder: str, node: str) -> bool:
    """Record the attempt and the message's new state; False if the lease was lost.

    The attempt row is written either way (it happened); the message only
    while ``holder`` still holds it and it is still pending.
    """
    values: dict[str, Any] = {
        "attempts": message.attempts + 1,
        "last_attempt_at": outcome.attempted_at,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "locked_until": None,
        "locked_by": None,
    }
    if outcome.verdict == "delivered":
        values.update(status="delivered", delivered_at=outcome.attempted_at)
    elif outcome.verdict == "retry" and outcome.next_attempt_at is not None:
        values.update(next_attempt_at=outcome.next_attempt_at)
    else:
        values.update(status="dead")
    with writing(engine) as conn:
        conn.execute(
            insert(webhook_attempts),
            {
                "message_id": message.id,
                "attempted_at": outcome.attempted_at,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
                "node": node,
            },
        )
        result = conn.execute(
            update(webhook_messages)
            .where(_M.id == message.id, _M.locked_by == holder, _M.status == "pending")
            .values(values)
        )
        if outcome.verdict == "gone":
            conn.execute(
                update(webhook_subscriptions)
                .where(_S.id == message.subscription_id)
                .values(enabled=False, updated_at=outcome.attempted_at)
            )
        return bool(result.rowcount)


def release(engine: Engine, ids: list[int], *, holder: str) -> None:
    """Give the leases on ``ids`` back without an attempt (they stay due)."""
    if not ids:
        return
    with writing(engine) as conn:
        conn.execute(
            update(webhook_messages)
            .where(_M.id.in_(ids), _M.locked_by == holder)
            .values(locked_until=None, locked_by=None)
        )

"""The JSON the management endpoint answers with, built from :mod:`mta.status` snapshots.

These models are the contract (they make the OpenAPI document); the snapshot
dataclasses are the MTA's internals and may grow without changing the API.
Conversions are pure functions, and so is the queue query (filter, sort, limit).

JSON conventions: timestamps are ISO 8601 with an offset, to the second
(``2024-05-01T12:00:00+00:00``; a naive datetime is read as UTC); a rate that
is unlimited (``inf``) is ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mta.status import MtaStatus, QueueStatus

__all__ = [
    "ActionOut",
    "HealthOut",
    "ListenerOut",
    "QueueDetailOut",
    "QueueListOut",
    "QueueOut",
    "QueueSummaryOut",
    "StatusOut",
    "iso",
    "select_queues",
]

Timestamp = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, examples=["2024-05-01T12:00:00+00:00"])
]


def _aware(moment: datetime) -> datetime:
    # Snapshots should carry aware datetimes; a naive one is read as UTC rather
    # than failing the whole status page.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 with an offset, to the second (naive datetimes are taken as UTC)."""
    return _aware(moment).isoformat(timespec="seconds")


def _rate(value: float) -> float | None:
    # JSON has no infinity: an unlimited rate is null.
    return value if math.isfinite(value) else None


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueueOut(_Out):
    """One delivery queue (a destination through one vmta)."""

    queue: str
    vmta: str
    queued: int
    deferred: int
    connections: int
    max_smtp_out: int = Field(description="connections this worker may open (its share)")
    msg_rate: float | None = Field(
        description="messages/second this worker may send now (its share); null: unlimited"
    )
    configured_msg_rate: float | None = Field(description="max-msg-rate; null: unlimited")
    total_max_smtp_out: int = Field(
        description="max-smtp-out in force for the whole MTA, every smtp worker together"
    )
    total_msg_rate: float | None = Field(
        description="messages/second in force for the whole MTA; null: unlimited"
    )
    workers: int = Field(description="smtp-workers processes these limits are split between")
    delivered: int
    bounced: int
    transient_failures: int
    backoff: bool
    backoff_until: Timestamp | None
    paused: bool
    last_reply: str
    last_error: str
    override: str = Field(description="why a live throttle override is in force, or empty")
    held_until: Timestamp | None = Field(description="paused by an override until then")

    @classmethod
    def of(cls, q: QueueStatus) -> QueueOut:
        """The JSON form of one queue snapshot."""
        return cls(
            queue=q.queue,
            vmta=q.vmta,
            queued=q.queued,
            deferred=q.deferred,
            connections=q.connections,
            max_smtp_out=q.max_smtp_out,
            msg_rate=_rate(q.msg_rate),
            configured_msg_rate=_rate(q.configured_msg_rate),
            total_max_smtp_out=q.total_max_smtp_out,
            total_msg_rate=_rate(q.total_msg_rate),
            workers=q.workers,
            delivered=q.delivered,
            bounced=q.bounced,
            transient_failures=q.transient_failures,
            backoff=q.backoff,
            backoff_until=iso(q.backoff_until) if q.backoff_until is not None else None,
            paused=q.paused,
            last_reply=q.last_reply,
            last_error=q.last_error,
            override=q.override,
            held_until=iso(q.held_until) if q.held_until is not None else None,
        )


class ListenerOut(_Out):
    """One SMTP listener."""

    # ListenerOut.model_validate(snapshot) copies a ListenerStatus's fields.
    model_config = ConfigDict(from_attributes=True)

    address: str
    port: int
    connections: int
    accepted: int
    rejected: int


class QueueSummaryOut(_Out):
    """Sums over a set of queues."""

    count: int
    queued: int
    deferred: int
    connections: int
    backoff: int = Field(description="queues in backoff mode")
    paused: int = Field(description="paused queues")

    @classmethod
    def of(cls, queues: Iterable[QueueStatus]) -> QueueSummaryOut:
        """Count and sum ``queues``."""
        qs = tuple(queues)
        return cls(
            count=len(qs),
            queued=sum(q.queued for q in qs),
            deferred=sum(q.deferred for q in qs),
            connections=sum(q.connections for q in qs),
            backoff=sum(q.backoff for q in qs),
            paused=sum(q.paused for q in qs),
        )


class StatusOut(_Out):
    """The whole MTA at one instant (queues summarised; list them with ``GET /queues``)."""

    host_name: str
    started_at: Timestamp
    now: Timestamp
    uptime_seconds: int
    config_files: list[str]
    config_loaded_at: Timestamp
    spool: dict[str, int]
    listeners: list[ListenerOut]
    totals: dict[str, int]
    queues: QueueSummaryOut

    @classmethod
    def of(cls, s: MtaStatus) -> StatusOut:
        """The JSON form of a whole snapshot."""
        uptime = _aware(s.now) - _aware(s.started_at)
        return cls(
            host_name=s.host_name,
            started_at=iso(s.started_at),
            now=iso(s.now),
            uptime_seconds=max(0, int(uptime.total_seconds())),
            config_files=list(s.config_files),
            config_loaded_at=iso(s.config_loaded_at),
            spool=dict(s.spool),
            listeners=[ListenerOut.model_validate(listener) for listener in s.listeners],
            totals=dict(s.totals),
            queues=QueueSummaryOut.of(s.queues),
        )


class QueueListOut(_Out):
    """A page of queues, most messages first."""

    total: int = Field(description="queues matching the filters")
    count: int = Field(description="queues in this answer (at most limit)")
    limit: int
    queues: list[QueueOut]


class QueueDetailOut(_Out):
    """One destination across every vmta that has a queue for it."""

    queue: str
    summary: QueueSummaryOut
    vmtas: list[QueueOut]


class ActionOut(_Out):
    """What an admin action did."""

    action: Literal["pause", "resume", "reload"]
    queue: str | None = None
    vmta: str | None = None
    affected: int | None = Field(default=None, description="queues paused or resumed")
    result: str = ""


class HealthOut(_Out):
    """The MTA answers."""

    status: Literal["ok"] = "ok"
    host_name: str
    now: Timestamp


def _same(a: str, b: str) -> bool:
    # Domains and vmta names are case-insensitive in PowerMTA's configuration.
    return a.casefold() == b.casefold()


def select_queues(
    queues: Iterable[QueueStatus],
    *,
    domain: str | None = None,
    vmta: str | None = None,
    backoff: bool | None = None,
    paused: bool | None = None,
) -> list[QueueStatus]:
    """Queues matching every given filter, most queued first (then by name, vmta)."""
    chosen = [
        q
        for q in queues
        if (domain is None or _same(q.queue, domain))
        and (vmta is None or _same(q.vmta, vmta))
        and (backoff is None or q.backoff == backoff)
        and (paused is None or q.paused == paused)
    ]
    chosen.sort(key=lambda q: (-q.queued, q.queue.casefold(), q.vmta.casefold()))
    return chosen

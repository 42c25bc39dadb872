"""``/v1/throttles`` (the shared throttle decisions) and ``/v1/mta`` (one MTA's queues).

Throttle decisions live in the SQL store that every node's MTA follows, so a
manual override, pause or resume made here applies to every node within a
second, and stays in the history next to the controller's own decisions. The
controller may decide again later; the newest decision for a pair wins.

``/v1/mta/...`` shows the queues of the MTA this API is linked to (its
management port, or the MTA in this process) with backoff state and any live
override, and can pause or resume a queue on that MTA alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.keys import ApiKey
from acctpipe.api.models import ThrottleIn
from acctpipe.api.mtalink import MtaLink, MtaUnavailableError
from acctpipe.api.settings import Services
from acctpipe.policy.types import ThrottleAction, ThrottleDecision
from acctpipe.sqlstore.suppressions import StoredThrottle
from mta.mgmt.app import ActionOut, QueueListOut, StatusOut

__all__ = ["mta_router", "router"]

router = APIRouter(prefix="/v1/throttles", tags=["throttles"])
mta_router = APIRouter(prefix="/v1/mta", tags=["mta"])
Svc = Annotated[Services, Depends(services)]


class ThrottleOut(BaseModel):
    """A throttle decision and why it was made."""

    id: int
    queue: str
    vmta: str
    action: ThrottleAction
    rule: str
    rate: float | None
    max_smtp_out: int | None
    decided_at: datetime
    expires_at: datetime
    active: bool
    detail: str
    evidence: dict[str, float]
    event_ids: list[str]

    @classmethod
    def of(cls, stored: StoredThrottle, now: datetime) -> ThrottleOut:
        """The API shape of a stored decision."""
        d = stored.decision
        return cls(
            id=stored.id,
            queue=d.queue,
            vmta=d.vmta,
            action=d.action,
            rule=d.rule,
            rate=d.rate,
            max_smtp_out=d.max_smtp_out,
            decided_at=d.decided_at,
            expires_at=d.expires_at,
            active=stored.is_active(now),
            detail=d.detail,
            evidence=dict(d.evidence),
            event_ids=list(d.event_ids),
        )


@router.get("", dependencies=[Depends(require("read"))], responses=problems(422))
def active(
    svc: Svc, queue: Annotated[str | None, Query(max_length=255)] = None
) -> list[ThrottleOut]:
    """The decision in force for each (queue, vmta) pair now (``normal`` ones included)."""
    now = datetime.now(UTC)
    return [ThrottleOut.of(s, now) for s in svc.throttles.active(now, queue=queue)]


@router.get("/history", dependencies=[Depends(require("read"))], responses=problems(422))
def history(
    svc: Svc,
    queue: Annotated[str, Query(min_length=1, max_length=255)],
    vmta: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[ThrottleOut]:
    """The newest decisions for ``queue`` (and ``vmta``), newest first."""
    now = datetime.now(UTC)
    return [ThrottleOut.of(s, now) for s in svc.throttles.history(queue, vmta, limit)]


def _record(svc: Services, decision: ThrottleDecision) -> ThrottleOut:
    new_id = svc.throttles.record(decision)
    return ThrottleOut.of(StoredThrottle(new_id, decision), decision.decided_at)


def _manual(
    key: ApiKey,
    queue: str,
    vmta: str,
    action: ThrottleAction,
    minutes: float,
    *,
    rate: float | None = None,
    max_smtp_out: int | None = None,
    detail: str = "",
) -> ThrottleDecision:
    now = datetime.now(UTC)
    evidence = {"pause_s": minutes * 60} if action == "pause" else {}
    return ThrottleDecision(
        queue=queue.strip().lower(),
        vmta=vmta,
        action=action,
        rule=f"manual:{key.name}"[:200],
        decided_at=now,
        expires_at=now + timedelta(minutes=minutes),
        rate=rate,
        max_smtp_out=max_smtp_out,
        evidence=evidence,
        detail=detail or f"set through the API by key {key.key_id}",
    )


@router.post("", status_code=201, responses=problems(422))
def override(
    body: ThrottleIn, svc: Svc, key: Annotated[ApiKey, Depends(require("admin"))]
) -> ThrottleOut:
    """Record a manual decision (slow to ``rate``, pause, ramp, or back to normal)."""
    if body.action in ("slow", "ramp") and body.rate is None and body.max_smtp_out is None:
        raise HTTPException(422, f"a {body.action} decision needs rate or max_smtp_out")
    decision = _manual(
        key,
        body.queue,
        body.vmta,
        body.action,
        body.minutes,
        rate=body.rate,
        max_smtp_out=body.max_smtp_out,
        detail=body.detail,
    )
    return _record(svc, decision)


@router.post("/{queue}/pause", status_code=201, responses=problems(422))
def pause(
    queue: str,
    svc: Svc,
    key: Annotated[ApiKey, Depends(require("admin"))],
    vmta: Annotated[str, Query(min_length=1, max_length=255)] = "*",
    minutes: Annotated[float, Query(gt=0, le=7 * 24 * 60)] = 60,
) -> ThrottleOut:
    """Pause ``queue`` (through ``vmta``; every vmta by default) on every node."""
    return _record(svc, _manual(key, queue, vmta, "pause", minutes))


@router.post("/{queue}/resume", status_code=201, responses=problems(422))
def resume(
    queue: str,
    svc: Svc,
    key: Annotated[ApiKey, Depends(require("admin"))],
    vmta: Annotated[str, Query(min_length=1, max_length=255)] = "*",
) -> ThrottleOut:
    """Lift any pause or slow-down of ``queue`` on every node (a ``normal`` decision)."""
    return _record(svc, _manual(key, queue, vmta, "normal", 1))


def _link(svc: Services) -> MtaLink:
    if svc.mta is None:
        raise MtaUnavailableError(
            "no MTA is linked to this API: start it with --mta-url http://HOST:PORT "
            "(the MTA's http-mgmt-port) or run everything with acctpipe run"
        )
    return svc.mta


@mta_router.get("/status", dependencies=[Depends(require("read"))], responses=problems(503))
async def mta_status(svc: Svc) -> StatusOut:
    """The linked MTA's host, uptime, spool, listeners and totals."""
    return await _link(svc).status()


@mta_router.get("/queues", dependencies=[Depends(require("read"))], responses=problems(422, 503))
async def mta_queues(
    svc: Svc,
    domain: Annotated[str | None, Query(max_length=255)] = None,
    vmta: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> QueueListOut:
    """The linked MTA's queues (backoff state, live override, counts), most queued first."""
    return await _link(svc).queues(domain=domain, vmta=vmta, limit=limit)


async def _act(
    svc: Services, action: Literal["pause", "resume"], queue: str, vmta: str | None
) -> ActionOut:
    try:
        return await _link(svc).act(action, queue, vmta)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


@mta_router.post(
    "/queues/{queue}/pause",
    dependencies=[Depends(require("admin"))],
    responses=problems(404, 422, 503),
)
async def mta_pause(
    queue: str, svc: Svc, vmta: Annotated[str | None, Query(max_length=255)] = None
) -> ActionOut:
    """Pause a queue on the linked MTA only (until resumed)."""
    return await _act(svc, "pause", queue, vmta)


@mta_router.post(
    "/queues/{queue}/resume",
    dependencies=[Depends(require("admin"))],
    responses=problems(404, 422, 503),
)
async def mta_resume(
    queue: str, svc: Svc, vmta: Annotated[str | None, Query(max_length=255)] = None
) -> ActionOut:
    """Resume a queue on the linked MTA and leave backoff."""
    return await _act(svc, "resume", queue, vmta)

"""Throttle decisions in SQL: what the controller decided for a (queue, vmta) pair, and why.

Decisions are only appended, never updated: the table is the history that
``acctpipe throttle explain`` shows. The decision in force for a pair is its
newest one, as long as that has not expired — a newer decision supersedes an
older one even if the older one would last longer (a ``ramp`` after a
``pause`` ends the pause).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, insert, select, tuple_
from sqlalchemy.engine import Connection

from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore.schema import throttle_decisions

__all__ = ["StoredThrottle", "ThrottleHook", "ThrottleStore"]

ThrottleHook = Callable[[Connection, int, ThrottleDecision], None]

_T = throttle_decisions.c


@dataclass(frozen=True, slots=True)
class StoredThrottle:
    """A recorded :class:`~acctpipe.policy.types.ThrottleDecision` and its row ``id``."""

    id: int
    decision: ThrottleDecision

    def is_active(self, now: datetime) -> bool:
        """True until the decision's ``expires_at``."""
        return self.decision.expires_at > now


def _stored(row: Row[Any]) -> StoredThrottle:
    return StoredThrottle(
        id=row.id,
        decision=ThrottleDecision(
            queue=row.queue,
            vmta=row.vmta,
            action=row.action,
            rule=row.rule,
            decided_at=row.decided_at,
            expires_at=row.expires_at,
            rate=row.rate,
            max_smtp_out=row.max_smtp_out,
            evidence={str(k): float(v) for k, v in row.evidence.items()},
            event_ids=tuple(row.event_ids),
            detail=row.detail,
        ),
    )


class ThrottleStore:
    """Append-only store of throttle decisions on an engine from :mod:`acctpipe.sqlstore`.

    ``on_record`` is called inside :meth:`record`'s transaction, after the
    insert, with the connection, the new id and the decision (the webhook
    outbox is written there, so it commits or rolls back with the decision).
    """

    def __init__(self, engine: Engine, *, on_record: ThrottleHook | None = None) -> None:
        self.engine = engine
        self._on_record = on_record

    def record(self, decision: ThrottleDecision) -> int:
        """Store ``decision``; return its id."""
        values = {
            "queue": decision.queue,
            "vmta": decision.vmta,
            "action": decision.action,
            "rule": decision.rule,
            "rate": decision.rate,
            "max_smtp_out": decision.max_smtp_out,
            "decided_at": decision.decided_at,
            "expires_at": decision.expires_at,
            "evidence": dict(decision.evidence),
            "event_ids": list(decision.event_ids),
            "detail": decision.detail,
        }
        with self.engine.begin() as conn:
            new_id = int(
                conn.execute(insert(throttle_decisions).returning(_T.id), values).scalar_one()
            )
            if self._on_record is not None:
                self._on_record(conn, new_id, decision)
        return new_id

    def active(self, now: datetime, *, queue: str | None = None) -> list[StoredThrottle]:
        """The decision in force for each pair at ``now`` (newest per pair, if unexpired).

        Ordered by (queue, vmta); ``queue`` limits it to one queue.
        """
        live = select(_T.queue, _T.vmta).where(_T.expires_at > now)
        if queue is not None:
            live = live.where(_T.queue == queue)
        rank = (
            func.row_number()
            .over(partition_by=(_T.queue, _T.vmta), order_by=(_T.decided_at.desc(), _T.id.desc()))
            .label("rank")
        )
        ranked = (
            select(throttle_decisions, rank)
            .where(_T.decided_at <= now, tuple_(_T.queue, _T.vmta).in_(live))
            .subquery()
        )
        query = (
            select(ranked)
            .where(ranked.c.rank == 1, ranked.c.expires_at > now)
            .order_by(ranked.c.queue, ranked.c.vmta)
        )
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query)]

    def history(self, queue: str, vmta: str | None = None, limit: int = 50) -> list[StoredThrottle]:
        """The newest ``limit`` decisions for ``queue`` (and ``vmta``), newest first."""
        query = select(throttle_decisions).where(_T.queue == queue)
        if vmta is not None:
            query = query.where(_T.vmta == vmta)
        query = query.order_by(_T.decided_at.desc(), _T.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query)]

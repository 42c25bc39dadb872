"""Settling an attempt, part one: every recipient accounted for, then handed to the settler.

Whatever happens to a message — sent and answered, a recipient suppressed, a
domain with no mail host, expired while its queue could not connect, a local
failure — :class:`Ledger` writes one accounting record per recipient
(:mod:`~mta.delivery.attempt` decides which), bumps the queue's and the
engine's counters, and decides where the message goes next: forgotten (every
recipient delivered or bounced) or deferred to its next retry time, never
past ``bounce-after`` so the last try falls on the expiry. Part two, the spool
move (and parking it while the disk refuses), is :mod:`~mta.delivery.settle`.

The ledger also knows which messages this process has taken into ``active/``
and not yet moved out (``inflight``): a stop puts them back in ``incoming/``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mta.delivery.attempt import (
    NO_ANSWER,
    Context,
    Reply,
    Verdict,
    attempt_record,
    retry_delay,
    suppressed_record,
    verdict,
)
from mta.delivery.client import Connection
from mta.delivery.queue import DeliveryQueue, QueuedMessage
from mta.delivery.settle import Settlement, Settler
from mta.spool.durable import Envelope

if TYPE_CHECKING:
    from mta.delivery.engine import DeliveryEngine

__all__ = ["Ledger"]

log = logging.getLogger("mta.delivery.engine")  # one logger for every part of the engine


class Ledger:
    """Account for each attempt (records, counters) and settle its message."""

    def __init__(self, engine: DeliveryEngine) -> None:
        self.engine = engine
        self.inflight: set[str] = set()  # taken into active/ by this process, not settled
        self.settler = Settler(engine.spool, self._moved)

    def context(
        self,
        queue: DeliveryQueue,
        env: Envelope,
        source_ip: str = "",
        dest: str = "",
        size: int = 0,
    ) -> Context:
        """What a record of ``env`` says about the message and the path it took."""
        extra = env.extra
        return Context(
            sender=env.sender,
            queued_at=datetime.fromtimestamp(env.received_at, UTC),
            queue=queue.queue,
            vmta=queue.vmta,
            vmta_pool=extra.get("pool", ""),
            job_id=env.job_id or "",
            env_id=extra.get("env_id", ""),
            src_type=extra.get("src_type", "smtp"),
            src_mta=extra.get("src_mta", ""),
            source_ip=source_ip,
            destination_ip=dest,
            size=size,
        )

    def unsuppressed(self, queue: DeliveryQueue, message: QueuedMessage) -> list[str]:
        """The recipients still to send to; suppressed ones get a ``b`` record now."""
        engine = self.engine
        env = message.envelope
        check = engine.suppressed
        if check is None or engine.config.suppressed_recipients == "ignore":
            return env.recipients
        keep: list[str] = []
        now = datetime.now(UTC)
        for rcpt in env.recipients:
            why = check(rcpt, env.sender, env.job_id)
            if why is None:
                keep.append(rcpt)
                continue
            ctx = self.context(queue, env)
            engine.records(suppressed_record(rcpt, why, ctx, now=now, table=engine.table))
            queue.bounced += 1
            engine.totals["suppressed"] += 1
        return keep

    def account(
        self,
        queue: DeliveryQueue,
        message: QueuedMessage,
        recipients: list[str],
        replies: Mapping[str, Reply],
        conn: Connection,
        raw: bytes,
        now: float,
    ) -> tuple[dict[str, Reply], Reply]:
        """One record per recipient sent to; (the deferred ones' replies, the last reply)."""
        engine = self.engine
        env = message.envelope
        now_dt = datetime.fromtimestamp(now, UTC)
        expired = now >= env.received_at + queue.settings.bounce_after
        ctx = self.context(queue, env, conn.source_ip, conn.host, len(raw))
        ctx = replace(
            ctx, esmtp=",".join(sorted(conn.extensions)).upper(), destination_mta=conn.host
        )
        deferred: dict[str, Reply] = {}
        last = Reply(0, "")
        for rcpt in recipients:
            reply = replies.get(rcpt, NO_ANSWER("no reply for this recipient"))
            kind = verdict(reply, expired=expired)
            engine.records(attempt_record(kind, rcpt, reply, ctx, now=now_dt, table=engine.table))
            queue.note_reply(reply, now)
            last = reply
            if kind == "deferred":
                deferred[rcpt] = reply
                queue.transient += 1
            elif kind == "delivered":
                queue.delivered += 1
            else:
                queue.bounced += 1
            engine.totals[kind] += 1
        return deferred, last

    def expire_waiting(self, queue: DeliveryQueue, reply: Reply, now: float) -> None:
        """Messages that sat past ``bounce-after`` while the queue could not connect."""
        limit = queue.settings.bounce_after
        stale = [m for m in queue.ready if now >= m.envelope.received_at + limit]
        for message in stale:
            queue.ready.remove(message)
            self.engine.track(self.give_up(queue, message, reply, "expired"))

    async def give_up(
        self, queue: DeliveryQueue, message: QueuedMessage, reply: Reply, kind: str
    ) -> None:
        """Bounce (or, ``kind`` "expired", expire) every recipient without sending."""
        engine = self.engine
        if not await asyncio.to_thread(engine.spool.take, message.spool_id):
            return
        self.inflight.add(message.spool_id)
        now = datetime.now(UTC)
        ctx = self.context(queue, message.envelope)
        final: Verdict = "expired" if kind == "expired" else "bounced"
        for rcpt in message.envelope.recipients:
            engine.records(attempt_record(final, rcpt, reply, ctx, now=now, table=engine.table))
        queue.bounced += len(message.envelope.recipients)
        engine.totals[final] += len(message.envelope.recipients)
        await self.settle(queue, message, {}, reply, now.timestamp(), accounted=True)

    async def settle(
        self,
        queue: DeliveryQueue,
        message: QueuedMessage,
        deferred: dict[str, Reply],
        last: Reply,
        now: float,
        *,
        accounted: bool = False,
    ) -> None:
        """After an attempt: the spool forgets the message, or keeps the deferred recipients.

        Without ``accounted`` (a local failure before anything was sent), every
        recipient is deferred with a ``t`` record.
        """
        engine = self.engine
        env = message.envelope
        if not accounted and last.code == 0 and last.text:
            ctx = self.context(queue, env)
            now_dt = datetime.fromtimestamp(now, UTC)
            for rcpt in env.recipients:
                engine.records(
                    attempt_record("deferred", rcpt, last, ctx, now=now_dt, table=engine.table)
                )
                deferred[rcpt] = last
            queue.transient += len(env.recipients)
        settlement = Settlement(queue, message)
        if deferred:
            # Never wait past the expiry: the last attempt falls on it, and a failure there
            # bounces (4.4.7) on time instead of after the next retry step.
            at = now + retry_delay(queue.retry_schedule(now), env.attempts)
            at = max(now, min(at, env.received_at + queue.settings.bounce_after))
            settlement.deferred, settlement.at, settlement.reason = list(deferred), at, str(last)
        await self.settler.settle(settlement)

    def requeue(self, ids: list[str]) -> None:
        """At stop (in a worker thread): these in-flight messages back to ``incoming/``."""
        for spool_id in ids:
            try:
                self.engine.spool.requeue(spool_id)
            except FileNotFoundError:
                pass
            except OSError as exc:  # still in active/: the next start's recovery requeues it
                log.error("cannot requeue %s at stop: %s", spool_id, exc)
            self.inflight.discard(spool_id)

    def _moved(self, spool_id: str, deferred: bool) -> None:
        self.inflight.discard(spool_id)
        self.engine.scheduler.moved(deferred)

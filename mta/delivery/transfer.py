"""One message on an open connection: load it, send it, say what became of it.

:meth:`Transfer.deliver` is the step a connection repeats for each message it
takes from its queue:

1. claim the message (``incoming/`` → ``active/``) and read it, DKIM-signing it
   when the queue says so — signing in a worker thread. Mail DKIM cannot sign
   goes out unsigned rather than sticking;
2. drop the suppressed recipients (each gets its ``b`` record now);
3. send to the others with the VERP or plain return path;
4. hand every recipient's reply to the :mod:`~mta.delivery.ledger`, which
   writes the records and settles the message; a hang-up or 421 defers the
   whole queue (:meth:`~mta.delivery.connections.Connections.queue_failed`).

The answer is an :data:`~mta.delivery.attempt.Outcome`; the table beside it
says whether the connection takes another message. A local failure anywhere
(an unreadable spool, a bug) never strands a message in ``active/``: it is
requeued, or settled as deferred.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from mta.delivery.attempt import NO_ANSWER, Outcome, Reply
from mta.delivery.client import Connection
from mta.delivery.prepare import return_path
from mta.delivery.queue import DeliveryQueue, QueuedMessage
from mta.delivery.settle import RETRY_SECONDS
from mta.spool.durable import CorruptMessageError

if TYPE_CHECKING:
    from mta.delivery.engine import DeliveryEngine

__all__ = ["Transfer"]

log = logging.getLogger("mta.delivery.engine")  # one logger for every part of the engine


class Transfer:
    """Send spooled messages on open connections, one at a time per connection."""

    def __init__(self, engine: DeliveryEngine) -> None:
        self.engine = engine
        self._accounted: set[str] = set()  # in flight, with this attempt's records written

    async def deliver(
        self, queue: DeliveryQueue, conn: Connection, message: QueuedMessage
    ) -> Outcome:
        """Send one message on ``conn``; say what became of it."""
        engine = self.engine
        spool_id = message.spool_id
        sign = queue.settings.dkim_sign
        try:
            if sign:  # signing is CPU work: off the loop
                raw = await asyncio.to_thread(self._load, spool_id, queue.vmta, sign)
            else:
                # A rename and a read of a file just written (in the page cache) cost
                # less on the loop than the hop to a worker thread and back.
                raw = self._load(spool_id, queue.vmta, sign)
        except OSError as exc:  # unreadable now: back to incoming/ and to its queue, later
            engine.settler.failures.failed(exc)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(engine.spool.requeue, spool_id)
            queue.defer(message, time.time() + RETRY_SECONDS)
            return "unreadable"
        if raw is None:
            return "gone"  # removed by an operator (or corrupt, in bad/): nothing to do
        ledger = engine.ledger
        ledger.inflight.add(spool_id)
        try:
            return await self._attempt(queue, conn, message, raw)
        except Exception as exc:  # a local failure must not strand the message in active/
            log.exception("delivering %s failed locally; it will be retried", spool_id)
            if spool_id not in ledger.inflight or spool_id in engine.settler.parked:
                return "local-error"  # settled (or parked for a retry) before the failure
            reply = NO_ANSWER(f"local error: {exc}")
            # Deferred without a second record when the attempt was already accounted.
            accounted = spool_id in self._accounted
            deferred = dict.fromkeys(message.envelope.recipients, reply) if accounted else {}
            await ledger.settle(queue, message, deferred, reply, time.time(), accounted=accounted)
            return "local-error"
        finally:
            self._accounted.discard(spool_id)

    async def _attempt(
        self, queue: DeliveryQueue, conn: Connection, message: QueuedMessage, raw: bytes
    ) -> Outcome:
        ledger = self.engine.ledger
        env = message.envelope
        recipients = ledger.unsuppressed(queue, message)
        if not recipients:
            await ledger.settle(queue, message, {}, Reply(0, ""), time.time())
            return "all-suppressed"
        sender = return_path(env.sender, recipients, verp=env.extra.get("verp") == "1")
        result = await conn.send(sender, recipients, raw, timeout=queue.settings.data_send_timeout)
        now = time.time()
        deferred, last = ledger.account(queue, message, recipients, result.replies, conn, raw, now)
        self._accounted.add(message.spool_id)
        await ledger.settle(queue, message, deferred, last, now, accounted=True)
        if result.closed and (last.code in (0, 421)):
            # The receiver hung up or said 421: hold the whole queue for a retry step
            # instead of reconnecting at once for every waiting message.
            self.engine.connections.queue_failed(queue, last, conn.source_ip, conn.host)
        return "closed" if result.closed else "sent"

    def _load(self, spool_id: str, vmta: str, sign: bool) -> bytes | None:
        """Claim the message into ``active/`` and read it (signed when ``sign``); None: gone."""
        engine = self.engine
        if not engine.spool.take(spool_id):
            return None
        try:
            raw = engine.spool.read_bytes("active", spool_id)
        except CorruptMessageError as exc:
            # Never sent half a message: the file goes to bad/ for an operator to look at.
            log.error("%s; moved to bad/", exc)
            engine.spool.bury(spool_id, "active", str(exc))
            return None
        if not sign:
            return raw
        try:
            return engine.signer.sign(raw, vmta)
        except Exception as exc:  # noqa: BLE001 - dkimpy raises several kinds on odd mail
            # A message DKIM cannot sign (no From, a broken header) is sent unsigned:
            # the receiver judges it as any unsigned mail, and nothing is stuck.
            log.warning("cannot DKIM-sign %s, sending it unsigned: %s", spool_id, exc)
            return raw

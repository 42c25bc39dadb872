"""Connection handling: one task per outbound SMTP session of a (destination, vmta) queue.

The scheduler decides *that* a queue gets a connection; :class:`Connections`
runs it (:meth:`~Connections.spawn`):

* **where**: the queue's domain is routed (``route`` pins, MX lookup, Null MX:
  :func:`~mta.delivery.routing.delivery_hosts`), from the vmta's
  ``smtp-source-host`` address and HELO name, with STARTTLS as configured;
* **how long**: messages go one by one (:meth:`~mta.delivery.transfer.Transfer.deliver`),
  each after a token from the queue's ``max-msg-rate`` bucket, until
  ``max-msg-per-connection`` is reached, the queue is empty after a short idle
  wait (``IDLE_SECONDS``), paused or held, records cannot be written, or a
  message's :data:`~mta.delivery.attempt.Outcome` ends the connection. A rate
  wait longer than ``LONG_WAIT`` is not spent holding the session open;
* **when it fails**: a queue that cannot connect (or is told 421, or hung up
  on) is deferred as a whole — one ``tq`` record, one backoff step, however many
  sibling connections saw the same outage — and its waiting messages that are
  past ``bounce-after`` expire. A domain that cannot receive mail at all (Null
  MX, no such domain) bounces its waiting messages.

``max-smtp-out`` is counted here (``queue.connections``) and enforced by the
scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mta.delivery.attempt import ENDS_CONNECTION, NO_ANSWER, Reply, queue_record
from mta.delivery.client import Connection, OpenFailure, TlsMode, open_connection
from mta.delivery.queue import DeliveryQueue, QueuedMessage
from mta.delivery.routing import delivery_hosts, domain_of
from mta.delivery.share import Slots
from mta.errors import PermanentPeerError, TransientPeerError

if TYPE_CHECKING:
    from mta.delivery.engine import DeliveryEngine

__all__ = ["IDLE_SECONDS", "LONG_WAIT", "Connections"]

log = logging.getLogger("mta.delivery.engine")  # one logger for every part of the engine
IDLE_SECONDS = 1.0  # how long an open connection waits for more mail before QUIT
LONG_WAIT = 2.0  # a rate wait longer than this is not spent holding a connection open


class Connections:
    """Open, use and close the engine's outbound connections; defer queues that cannot connect."""

    def __init__(self, engine: DeliveryEngine) -> None:
        self.engine = engine
        # Per queue: set when a message is pushed, so an idle connection takes it at once.
        self._events: dict[tuple[str, str], asyncio.Event] = {}

    def watch(self, queue: DeliveryQueue) -> None:
        """A new queue: its connections will wait for mail on their own event."""
        self._events[(queue.queue, queue.vmta)] = asyncio.Event()

    def mail_arrived(self, queue: DeliveryQueue) -> None:
        """A message was pushed on ``queue``: wake a connection idling on it."""
        self._events[(queue.queue, queue.vmta)].set()

    def wake_all(self) -> None:
        """Wake every idle connection (at stop: they see the engine stopping and QUIT)."""
        for event in self._events.values():
            event.set()

    def spawn(self, queue: DeliveryQueue) -> bool:
        """Start one more connection for ``queue`` (counted at once against ``max-smtp-out``).

        A queue whose cap is smaller than the smtp worker count first takes one of its
        shared slots (:class:`~mta.delivery.share.Slots`); with none free nothing starts
        (the connection token taken for it is given back) and this returns False.
        """
        slot = None
        if queue.slots is not None and queue.needs_slot(time.time()):
            slot = queue.slots.take(queue.total_connections(time.time()))
            if slot is None:
                queue.conn_bucket.tokens = min(
                    queue.conn_bucket.burst, queue.conn_bucket.tokens + 1
                )
                return False
        queue.connections += 1
        self.engine.track(self._run(queue, slot), name=f"smtp-out {queue.queue}/{queue.vmta}")
        return True

    async def _run(self, queue: DeliveryQueue, slot: int | None = None) -> None:
        conn: Connection | None = None
        try:
            first = queue.ready[0] if queue.ready else None
            if first is None:
                return
            conn = await self._open(queue, domain_of(first.envelope.recipients[0]))
            if conn is None:
                return
            await self._send_loop(queue, conn)
        except Exception:  # a bug must not kill the engine: log it, the message is requeued
            log.exception("connection task for %s/%s failed", queue.queue, queue.vmta)
        finally:
            queue.connections -= 1
            try:
                if conn is not None:
                    await conn.close()
            finally:
                if slot is not None:  # after the close: the receiver's session is over too
                    Slots.give(slot)
                self.engine.scheduler.wake()

    def _source(self, vmta_name: str) -> tuple[str | None, str]:
        """(source IP or None, HELO name) for connections through ``vmta_name``."""
        vmta = self.engine.config.virtual_mtas.get(vmta_name)
        host = vmta.smtp_source_host if vmta else None
        helo = (host.hostname if host else None) or (vmta.host_name if vmta else None)
        return (host.ip if host else None), helo or self.engine.host_name

    async def _open(self, queue: DeliveryQueue, domain: str) -> Connection | None:
        source_ip, helo = self._source(queue.vmta)
        settings = queue.settings
        try:
            hosts = await asyncio.to_thread(delivery_hosts, domain, settings, self.engine.resolver)
        except PermanentPeerError as exc:
            reply = Reply(exc.reply_code or 550, f"{exc.enhanced_status or '5.1.2'} {exc}")
            await self._fail_domain(queue, domain, reply)
            return None
        except TransientPeerError as exc:
            self.queue_failed(queue, NO_ANSWER(str(exc)), source_ip or "", "")
            return None
        tls: TlsMode = (
            "required"
            if settings.require_starttls
            else ("opportunistic" if settings.use_starttls else "no")
        )
        opened = await open_connection(
            hosts,
            helo=helo,
            source_ip=source_ip,
            tls=tls,
            timeout=settings.connect_timeout,
            pipelining=settings.smtp_pipelining,
        )
        if isinstance(opened, OpenFailure):
            self.queue_failed(queue, opened.reply, source_ip or "", opened.host)
            return None
        return opened

    def queue_failed(self, queue: DeliveryQueue, reply: Reply, source_ip: str, host: str) -> None:
        """The queue could not be served (no connection, 421, hang-up): hold it one retry step."""
        engine = self.engine
        now = time.time()
        queue.note_reply(reply, now)
        if now < queue.retry_at:
            return  # already held by a sibling connection's failure: one outage, one step
        until = queue.connection_failed(reply, now)
        engine.totals["tq"] += 1
        engine.records(
            queue_record(
                reply,
                queue=queue.queue,
                vmta=queue.vmta,
                source_ip=source_ip,
                destination_ip=host,
                table=engine.table,
            )
        )
        log.info(
            "queue %s/%s deferred until %s: %s",
            queue.queue,
            queue.vmta,
            datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds"),
            reply,
        )
        engine.ledger.expire_waiting(queue, reply, now)

    async def _fail_domain(self, queue: DeliveryQueue, domain: str, reply: Reply) -> None:
        doomed = [m for m in queue.ready if domain_of(m.envelope.recipients[0]) == domain]
        for message in doomed:
            queue.ready.remove(message)
            await self.engine.ledger.give_up(queue, message, reply, "bounced")

    async def _next_message(self, queue: DeliveryQueue) -> QueuedMessage | None:
        message = queue.pop_ready()
        if message is not None or self.engine.stopping:
            return message
        event = self._events[(queue.queue, queue.vmta)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IDLE_SECONDS
        while (left := deadline - loop.time()) > 0:
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)
            if self.engine.stopping or queue.paused or time.time() < queue.hold_until:
                return None
            message = queue.pop_ready()
            if message is not None:
                return message
            # A sibling connection took the message that woke us: keep the session for
            # the rest of the idle time instead of quitting and reconnecting for the next.
        return None

    async def _send_loop(self, queue: DeliveryQueue, conn: Connection) -> None:
        engine = self.engine
        while (
            not engine.stopping
            and not queue.paused
            and time.time() >= queue.hold_until
            and not engine.blocked()
        ):
            limit = queue.max_msg_per_connection(time.time())
            if limit and conn.sent >= limit:
                return
            message = await self._next_message(queue)
            if message is None:
                return
            mono, now = time.monotonic(), time.time()
            queue.refresh_rate(mono, now)
            wait = queue.msg_bucket.wait_time(mono)
            if wait > 0:
                queue.push_front(message)
                if wait > LONG_WAIT:
                    return  # QUIT now; the scheduler reconnects when a token is near
                await asyncio.sleep(wait)
                continue
            queue.msg_bucket.try_take(mono)
            queue.busy += 1
            try:
                outcome = await engine.transfer.deliver(queue, conn, message)
            finally:
                queue.busy -= 1
            if ENDS_CONNECTION[outcome]:
                return

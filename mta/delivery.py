"""The delivery engine: queues per (destination, vmta), connections, throttles, retries.

One scheduler task looks at every queue when something changes (a message
arrives, a connection ends, a retry falls due) and opens connections while a
queue has work, is under ``max-smtp-out`` and its ``max-conn-rate`` allows.
Each connection task sends messages from its queue one by one, taking a token
from the queue's message bucket before each, until the queue is empty (after a
short idle wait), ``max-msg-per-connection`` is reached, or the receiver hangs
up. Disk work (claiming, reading, signing, finishing) runs in worker threads so
the event loop only moves bytes.

Every recipient's outcome becomes one accounting record (:mod:`mta.attempt`),
written before the spool forgets the message: a crash in between can send a
message twice (at least once), never lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from classifiers import RuleTable
from mta.attempt import (
    NO_ANSWER,
    Context,
    Reply,
    attempt_record,
    queue_record,
    retry_delay,
    suppressed_record,
    verdict,
)
from mta.client import Connection, OpenFailure, TlsMode, open_connection
from mta.config import Config, effective_settings
from mta.config.model import DomainSettings
from mta.errors import PermanentPeerError, TransientPeerError
from mta.prepare import DEFAULT_VMTA, Signer, return_path
from mta.queue import DeliveryQueue, Override, QueuedMessage
from mta.routing import Resolver, delivery_hosts
from mta.spool import Envelope, Spool
from mta.status import QueueStatus

__all__ = ["DeliveryEngine", "RecordSink"]

log = logging.getLogger("mta.delivery")
RecordSink = Callable[[dict[str, object]], None]
IDLE_SECONDS = 1.0  # how long an open connection waits for more mail before QUIT
SYNC_SECONDS = 0.5  # finished messages' removal from active/ is made durable this often


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


class DeliveryEngine:
    """Deliver spooled messages; account for every attempt."""

    def __init__(
        self,
        spool: Spool,
        config: Config,
        *,
        resolver: Resolver,
        records: RecordSink,
        signer: Signer,
        table: RuleTable | None = None,
        host_name: str = "localhost",
    ) -> None:
        self.spool = spool
        self.config = config
        self.resolver = resolver
        self.records = records
        self.signer = signer
        self.table = table
        self.host_name = host_name
        self.queues: dict[tuple[str, str], DeliveryQueue] = {}
        self._events: dict[tuple[str, str], asyncio.Event] = {}
        self._settings: dict[tuple[str, str | None], tuple[str, DomainSettings]] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self._stopping = False
        self._unsynced = False  # finished messages whose removal is not yet synced
        self._synced_at = 0.0
        self.held = False  # True: accept and queue, but open no connection (operators, benchmarks)
        self._started = time.time()
        self.totals = {
            "delivered": 0,
            "bounced": 0,
            "deferred": 0,
            "expired": 0,
            "tq": 0,
            "suppressed": 0,
        }
        # (rcpt, sender, job id) -> why it is suppressed, or None (set by the runtime).
        self.suppressed: Callable[[str, str, str | None], str | None] | None = None
        self.overrides: dict[tuple[str, str], Override] = {}

    # -- queues --------------------------------------------------------------------------

    def settings_for(self, domain: str, vmta: str | None) -> tuple[str, DomainSettings]:
        """(queue name, effective settings) for a domain through a vmta (cached until reload)."""
        key = (domain, vmta)
        found = self._settings.get(key)
        if found is None:
            known = vmta if vmta in self.config.virtual_mtas else None
            eff = effective_settings(self.config, domain, known)
            found = self._settings[key] = (eff.queue, eff.settings)
        return found

    def queue_for(self, envelope: Envelope) -> DeliveryQueue:
        """The queue a spooled message belongs to (created on first use)."""
        domain = _domain(envelope.recipients[0]) if envelope.recipients else ""
        name, settings = self.settings_for(domain, envelope.vmta)
        vmta = envelope.vmta or DEFAULT_VMTA
        queue = self.queues.get((name, vmta))
        if queue is None:
            patterns = self.config.pattern_lists.get(settings.smtp_pattern_list or "")
            started = None
            if settings.warmup is not None:
                first = settings.warmup.start_date
                started = (
                    datetime(first.year, first.month, first.day, tzinfo=UTC)
                    if first
                    else datetime.fromtimestamp(self._started, UTC)
                )
            queue = DeliveryQueue(name, vmta, settings, patterns=patterns, warmup_started=started)
            self.queues[(name, vmta)] = queue
            override = self.overrides.get((name, vmta)) or self.overrides.get((name, "*"))
            if override is not None:
                override.apply(queue)
            self._events[(name, vmta)] = asyncio.Event()
        return queue

    def enqueue(self, spool_id: str, envelope: Envelope, *, deferred_until: float = 0.0) -> None:
        """Put a spooled message in its queue (ready now, or at ``deferred_until``)."""
        queue = self.queue_for(envelope)
        message = QueuedMessage(spool_id, envelope)
        if deferred_until > time.time():
            queue.defer(message, deferred_until)
        else:
            queue.push(message)
            self._events[(queue.queue, queue.vmta)].set()
        self._wake.set()

    def reconfigure(self, config: Config, signer: Signer) -> None:
        """A reloaded config: new settings for every queue, new keys."""
        self.config = config
        self.signer = signer
        self._settings.clear()
        for queue in self.queues.values():
            domain = queue.queue
            _, settings = self.settings_for(
                domain, queue.vmta if queue.vmta != DEFAULT_VMTA else None
            )
            queue.reconfigure(settings, config.pattern_lists.get(settings.smtp_pattern_list or ""))
        self._wake.set()

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the queues from the spool and start scheduling."""
        for state in ("incoming", "deferred"):
            ids = await asyncio.to_thread(self.spool.ids, state)
            for spool_id in ids:
                envelope = await asyncio.to_thread(self.spool.read_envelope, state, spool_id)
                if state == "deferred":
                    # Back to incoming only when due: the queue holds the time.
                    self.queue_for(envelope).defer(
                        QueuedMessage(spool_id, envelope), envelope.next_attempt
                    )
                else:
                    self.enqueue(spool_id, envelope)
        self._scheduler = asyncio.create_task(self._schedule(), name="mta-scheduler")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop opening connections; let each finish its current message (up to ``grace``)."""
        self._stopping = True
        self._wake.set()
        for event in self._events.values():
            event.set()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        await asyncio.to_thread(self.spool.sync_active)

    def set_overrides(self, overrides: list[Override]) -> None:
        """Put the current set of live throttle decisions in force (replacing the last set).

        Queues named by none of them go back to their configured behaviour.
        """
        now = time.time()
        self.overrides = {(o.queue, o.vmta): o for o in overrides if o.expires_at > now}
        for queue in self.queues.values():
            found = self.overrides.get((queue.queue, queue.vmta)) or self.overrides.get(
                (queue.queue, "*")
            )
            if found is None:
                Override.clear(queue)
            else:
                found.apply(queue)
        self._wake.set()

    def wake(self) -> None:
        """Ask the scheduler to look at the queues again (e.g. after an override)."""
        self._wake.set()

    async def _schedule(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now, mono = time.time(), time.monotonic()
            nearest = now + 1.0
            for queue in list(self.queues.values()):
                if queue.override_expires <= now:
                    Override.clear(queue)
                due = queue.due(now)
                if due:
                    await asyncio.to_thread(self._release, [m.spool_id for m in due])
                    for message in due:
                        queue.push(message)
                while not self.held and queue.wants_connection(mono, now):
                    self._spawn(queue)
                nearest = min(nearest, queue.next_due())
                if queue.ready and not queue.paused:
                    held = max(queue.retry_at, queue.hold_until)
                    if held > now:
                        nearest = min(nearest, held)
                    elif queue.connections < queue.max_connections:
                        wait = queue.conn_bucket.wait_time(mono)
                        nearest = min(nearest, now + max(wait, 0.01))
            if self._unsynced and mono - self._synced_at >= SYNC_SECONDS:
                self._unsynced, self._synced_at = False, mono
                await asyncio.to_thread(self.spool.sync_active)
            timeout = max(0.0, min(nearest - time.time(), 1.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _release(self, ids: list[str]) -> None:
        for spool_id in ids:
            self.spool.release(spool_id)

    def _spawn(self, queue: DeliveryQueue) -> None:
        queue.connections += 1
        task = asyncio.create_task(
            self._connection(queue), name=f"smtp-out {queue.queue}/{queue.vmta}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one connection ------------------------------------------------------------------

    def _source(self, vmta_name: str) -> tuple[str | None, str]:
        vmta = self.config.virtual_mtas.get(vmta_name)
        host = vmta.smtp_source_host if vmta else None
        helo = (host.hostname if host else None) or (vmta.host_name if vmta else None)
        return (host.ip if host else None), helo or self.host_name

    async def _connection(self, queue: DeliveryQueue) -> None:
        conn: Connection | None = None
        try:
            first = queue.ready[0] if queue.ready else None
            if first is None:
                return
            conn = await self._open(queue, _domain(first.envelope.recipients[0]))
            if conn is None:
                return
            await self._send_loop(queue, conn)
        except Exception:  # a bug must not kill the engine: log it, the message is requeued
            log.exception("connection task for %s/%s failed", queue.queue, queue.vmta)
        finally:
            queue.connections -= 1
            if conn is not None:
                await conn.close()
            self._wake.set()

    async def _open(self, queue: DeliveryQueue, domain: str) -> Connection | None:
        source_ip, helo = self._source(queue.vmta)
        settings = queue.settings
        try:
            hosts = await asyncio.to_thread(delivery_hosts, domain, settings, self.resolver)
        except PermanentPeerError as exc:
            reply = Reply(exc.reply_code or 550, f"{exc.enhanced_status or '5.1.2'} {exc}")
            await self._fail_domain(queue, domain, reply)
            return None
        except TransientPeerError as exc:
            self._queue_failed(queue, NO_ANSWER(str(exc)), source_ip or "", "")
            return None
        tls: TlsMode = (
            "required"
            if settings.require_starttls
            else ("opportunistic" if settings.use_starttls else "no")
        )
        opened = await open_connection(
            hosts, helo=helo, source_ip=source_ip, tls=tls, timeout=settings.connect_timeout
        )
        if isinstance(opened, OpenFailure):
            self._queue_failed(queue, opened.reply, source_ip or "", opened.host)
            return None
        return opened

    def _queue_failed(self, queue: DeliveryQueue, reply: Reply, source_ip: str, host: str) -> None:
        now = time.time()
        queue.note_reply(reply, now)
        until = queue.connection_failed(reply, now)
        self.totals["tq"] += 1
        self.records(
            queue_record(
                reply,
                queue=queue.queue,
                vmta=queue.vmta,
                source_ip=source_ip,
                destination_ip=host,
                table=self.table,
            )
        )
        log.info(
            "queue %s/%s deferred until %s: %s",
            queue.queue,
            queue.vmta,
            datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds"),
            reply,
        )
        self._expire_waiting(queue, reply, now)

    def _expire_waiting(self, queue: DeliveryQueue, reply: Reply, now: float) -> None:
        """Messages that sat past ``bounce-after`` while the queue could not connect."""
        limit = queue.settings.bounce_after
        stale = [m for m in queue.ready if now >= m.envelope.received_at + limit]
        for message in stale:
            queue.ready.remove(message)
            task = asyncio.create_task(self._give_up(queue, message, reply, "expired"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fail_domain(self, queue: DeliveryQueue, domain: str, reply: Reply) -> None:
        doomed = [m for m in queue.ready if _domain(m.envelope.recipients[0]) == domain]
        for message in doomed:
            queue.ready.remove(message)
            await self._give_up(queue, message, reply, "bounced")

    async def _give_up(
        self, queue: DeliveryQueue, message: QueuedMessage, reply: Reply, kind: str
    ) -> None:
        if not await asyncio.to_thread(self.spool.take, message.spool_id):
            return
        now = datetime.now(UTC)
        ctx = self._context(queue, message.envelope, "", "", 0)
        for rcpt in message.envelope.recipients:
            self.records(
                attempt_record(
                    "expired" if kind == "expired" else "bounced",
                    rcpt,
                    reply,
                    ctx,
                    now=now,
                    table=self.table,
                )
            )
        queue.bounced += len(message.envelope.recipients)
        self.totals["expired" if kind == "expired" else "bounced"] += len(
            message.envelope.recipients
        )
        await asyncio.to_thread(self.spool.finish, message.spool_id)

    async def _next_message(self, queue: DeliveryQueue) -> QueuedMessage | None:
        message = queue.pop_ready()
        if message is not None or self._stopping:
            return message
        event = self._events[(queue.queue, queue.vmta)]
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), IDLE_SECONDS)
        held = queue.paused or time.time() < queue.hold_until
        return None if self._stopping or held else queue.pop_ready()

    async def _send_loop(self, queue: DeliveryQueue, conn: Connection) -> None:
        while not self._stopping and not queue.paused and time.time() >= queue.hold_until:
            limit = queue.max_msg_per_connection
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
                if math.isinf(wait):
                    return
                await asyncio.sleep(min(wait, 1.0))
                continue
            queue.msg_bucket.try_take(mono)
            queue.busy += 1
            try:
                closed = await self._deliver(queue, conn, message)
            finally:
                queue.busy -= 1
            if closed:
                return

    def _context(
        self, queue: DeliveryQueue, env: Envelope, source_ip: str, dest: str, size: int
    ) -> Context:
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

    def _load(self, spool_id: str, vmta: str, sign: bool) -> bytes | None:
        if not self.spool.take(spool_id):
            return None
        raw = self.spool.read_bytes("active", spool_id)
        return self.signer.sign(raw, vmta) if sign else raw

    def _unsuppressed(self, queue: DeliveryQueue, message: QueuedMessage) -> list[str]:
        """The recipients still to send to; suppressed ones get a ``b`` record now."""
        env = message.envelope
        check = self.suppressed
        if check is None or self.config.suppressed_recipients == "ignore":
            return env.recipients
        keep: list[str] = []
        now = datetime.now(UTC)
        for rcpt in env.recipients:
            why = check(rcpt, env.sender, env.job_id)
            if why is None:
                keep.append(rcpt)
                continue
            ctx = self._context(queue, env, "", "", 0)
            self.records(suppressed_record(rcpt, why, ctx, now=now, table=self.table))
            queue.bounced += 1
            self.totals["suppressed"] += 1
        return keep

    async def _deliver(
        self, queue: DeliveryQueue, conn: Connection, message: QueuedMessage
    ) -> bool:
        env = message.envelope
        recipients = self._unsuppressed(queue, message)
        if not recipients:
            if await asyncio.to_thread(self.spool.take, message.spool_id):
                await asyncio.to_thread(self.spool.finish, message.spool_id, sync=False)
                self._unsynced = True
            return False
        raw = await asyncio.to_thread(
            self._load, message.spool_id, queue.vmta, queue.settings.dkim_sign
        )
        if raw is None:
            return False  # gone (another node's worker, or an operator): nothing to do
        sender = return_path(env.sender, recipients, verp=env.extra.get("verp") == "1")
        result = await conn.send(sender, recipients, raw, timeout=queue.settings.data_send_timeout)
        now = time.time()
        now_dt = datetime.fromtimestamp(now, UTC)
        expired = now >= env.received_at + queue.settings.bounce_after
        ctx = self._context(queue, env, conn.source_ip, conn.host, len(raw))
        ctx = replace(
            ctx, esmtp=",".join(sorted(conn.extensions)).upper(), destination_mta=conn.host
        )
        remaining: list[str] = []
        last = Reply(0, "")
        for rcpt in recipients:
            reply = result.replies.get(rcpt, NO_ANSWER("no reply for this recipient"))
            kind = verdict(reply, expired=expired)
            self.records(attempt_record(kind, rcpt, reply, ctx, now=now_dt, table=self.table))
            queue.note_reply(reply, now)
            last = reply
            if kind == "deferred":
                remaining.append(rcpt)
                queue.transient += 1
            elif kind == "delivered":
                queue.delivered += 1
            else:
                queue.bounced += 1
            self.totals[kind] += 1
        if remaining:
            at = now + retry_delay(queue.retry_schedule(), env.attempts)
            saved = await asyncio.to_thread(
                self.spool.defer, message.spool_id, at, str(last), remaining
            )
            queue.defer(QueuedMessage(message.spool_id, saved), at)
            self._wake.set()
        else:
            await asyncio.to_thread(self.spool.finish, message.spool_id, sync=False)
            self._unsynced = True
        if result.closed and last.code == 0:
            queue.last_error = str(last)
        return result.closed

    # -- status and control --------------------------------------------------------------

    def status(self) -> list[QueueStatus]:
        """Every queue's snapshot."""
        now = time.time()
        return [q.status(now) for q in self.queues.values()]

    def matching(self, queue: str, vmta: str | None) -> list[DeliveryQueue]:
        """The queues named ``queue`` (through ``vmta``, or every vmta)."""
        return [q for q in self.queues.values() if q.queue == queue and vmta in (None, q.vmta)]

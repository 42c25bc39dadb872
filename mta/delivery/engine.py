"""The delivery engine: queues per (destination, vmta), connections, throttles, retries.

One scheduler task looks at every queue when something changes (a message
arrives, a connection ends, a retry falls due) and opens connections while a
queue has work, is under ``max-smtp-out`` and its ``max-conn-rate`` allows.
Each connection task sends messages from its queue one by one, taking a token
from the queue's message bucket before each, until the queue is empty (after a
short idle wait), ``max-msg-per-connection`` is reached, or the receiver hangs
up. Disk work (claiming, reading, signing, finishing) runs in worker threads so
the event loop only moves bytes.

Every recipient's outcome becomes one accounting record (:mod:`mta.delivery.attempt`),
written before the spool forgets the message: a crash in between can send a
message twice (at least once), never lose it. While records cannot be written
(a full disk) no connection opens, and an attempted message is parked in
``active/`` until its records and its spool move both succeed (:mod:`mta.delivery.settle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from classifiers import RuleTable
from mta.config import Config, effective_settings
from mta.config.model import DomainSettings
from mta.delivery.attempt import (
    NO_ANSWER,
    Context,
    Reply,
    attempt_record,
    queue_record,
    retry_delay,
    suppressed_record,
    verdict,
)
from mta.delivery.client import Connection, OpenFailure, TlsMode, open_connection
from mta.delivery.prepare import DEFAULT_VMTA, Signer, return_path
from mta.delivery.queue import DeliveryQueue, Override, QueuedMessage
from mta.delivery.routing import Resolver, delivery_hosts, domain_of
from mta.delivery.settle import RETRY_SECONDS, Settlement, Settler
from mta.errors import PermanentPeerError, TransientPeerError
from mta.spool.durable import Envelope, Spool
from mta.status import QueueStatus

__all__ = ["DeliveryEngine", "RecordSink"]

log = logging.getLogger("mta.delivery.engine")
RecordSink = Callable[[dict[str, object]], None]
IDLE_SECONDS = 1.0  # how long an open connection waits for more mail before QUIT
SYNC_SECONDS = 0.5  # finished messages' removal from active/ is made durable this often
EXPIRY_CHECK_SECONDS = 10.0  # how often a held queue's waiting messages are checked for expiry
LONG_WAIT = 2.0  # a rate wait longer than this is not spent holding a connection open


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
        self._inflight: set[str] = set()  # taken into active/ by this process, not settled
        self._accounted: set[str] = set()  # in flight, with this attempt's records written
        self._unsynced = False  # finished messages whose removal is not yet synced
        self._synced_at = 0.0
        self.held = False  # True: accept and queue, but open no connection (operators, benchmarks)
        self._warmups: dict[str, float] | None = None
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
        # Set by the runtime: whether accounting records cannot be written now (then no
        # connection opens), and (settler.records_written) write those held so far.
        self.blocked: Callable[[], bool] = lambda: False
        self.settler = Settler(spool, self._moved)

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
        domain = domain_of(envelope.recipients[0]) if envelope.recipients else ""
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
                    else datetime.fromtimestamp(self._first_use(name, vmta), UTC)
                )
            queue = DeliveryQueue(name, vmta, settings, patterns=patterns, warmup_started=started)
            self.queues[(name, vmta)] = queue
            override = self.overrides.get((name, vmta)) or self.overrides.get((name, "*"))
            if override is not None:
                override.apply(queue)
            self._events[(name, vmta)] = asyncio.Event()
        return queue

    def _first_use(self, queue: str, vmta: str) -> float:
        """When a warmup without start-date began for this pair: remembered in the spool
        (``warmup.json``), so a restart does not send the pair back to day one."""
        path = self.spool.root / "warmup.json"
        if self._warmups is None:
            try:
                self._warmups = dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                self._warmups = {}
        key = f"{queue} {vmta}"
        if key not in self._warmups:
            self._warmups[key] = time.time()
            scratch = path.with_suffix(".new")
            try:
                scratch.write_text(json.dumps(self._warmups), encoding="utf-8")
                scratch.replace(path)
            except OSError as exc:
                log.error("cannot record the warmup start of %s: %s", key, exc)
        return float(self._warmups[key])

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
        await self.settler.retry(every=True)
        # Messages cut off mid-attempt go back to incoming/: a graceful stop is not a crash
        # (and so do parked ones: their records may be lost with the process, so they are
        # sent again rather than forgotten).
        await asyncio.to_thread(self._requeue, sorted(self._inflight))
        await asyncio.to_thread(self.spool.sync_active)

    def _requeue(self, ids: list[str]) -> None:
        for spool_id in ids:
            try:
                self.spool.requeue(spool_id)
            except FileNotFoundError:
                pass
            except OSError as exc:  # still in active/: the next start's recovery requeues it
                log.error("cannot requeue %s at stop: %s", spool_id, exc)
            self._inflight.discard(spool_id)

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
                try:
                    nearest = min(nearest, await self._tend(queue, now, mono))
                except Exception:  # one queue's bug must not stop every other queue
                    log.exception("scheduling %s/%s failed", queue.queue, queue.vmta)
            if self.settler.due(mono):
                await self.settler.retry()
            try:
                if self._unsynced and mono - self._synced_at >= SYNC_SECONDS:
                    self._unsynced, self._synced_at = False, mono
                    await asyncio.to_thread(self.spool.sync_active)
            except OSError as exc:
                log.error("cannot sync the spool's active/ directory: %s", exc)
            timeout = max(0.0, min(nearest - time.time(), 1.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _tend(self, queue: DeliveryQueue, now: float, mono: float) -> float:
        """One look at one queue: release due retries, open connections, expire the
        stale; return when it next needs a look."""
        if queue.override_expires <= now:
            Override.clear(queue)
        due = queue.due(now)
        if due:
            moved = await asyncio.to_thread(self._release, [m.spool_id for m in due])
            for message in due[:moved]:
                queue.push(message)
            for message in due[moved:]:  # still in deferred/: still queued, tried again soon
                queue.defer(message, now + RETRY_SECONDS)
        while not self.held and not self.blocked() and queue.wants_connection(mono, now):
            self._spawn(queue)
        nearest = queue.next_due()
        if not queue.ready:
            return nearest
        held = max(queue.retry_at, queue.hold_until)
        if queue.paused or held > now:
            # Nothing is sent from a held queue, but its messages still expire on time.
            if now - queue.expiry_checked_at >= EXPIRY_CHECK_SECONDS:
                queue.expiry_checked_at = now
                self._expire_waiting(queue, NO_ANSWER(queue.last_error or "queue held"), now)
            return min(nearest, held if held > now else now + EXPIRY_CHECK_SECONDS)
        if not self.held and queue.connections < min(
            queue.max_connections(now), len(queue.ready) + queue.busy
        ):
            # More connections are wanted: come back when the rate buckets allow one.
            wait = max(queue.conn_bucket.wait_time(mono), queue.msg_bucket.wait_time(mono))
            nearest = min(nearest, now + max(wait, 0.01))
        return nearest

    def _release(self, ids: list[str]) -> int:
        """deferred/ → incoming/ for each; how many moved before one failed (OSError)."""
        for n, spool_id in enumerate(ids):
            try:
                self.spool.release(spool_id)
            except OSError as exc:
                self.settler.failures.failed(exc)
                return n
        return len(ids)

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
            conn = await self._open(queue, domain_of(first.envelope.recipients[0]))
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
        if now < queue.retry_at:
            return  # already held by a sibling connection's failure: one outage, one step
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
        doomed = [m for m in queue.ready if domain_of(m.envelope.recipients[0]) == domain]
        for message in doomed:
            queue.ready.remove(message)
            await self._give_up(queue, message, reply, "bounced")

    async def _give_up(
        self, queue: DeliveryQueue, message: QueuedMessage, reply: Reply, kind: str
    ) -> None:
        if not await asyncio.to_thread(self.spool.take, message.spool_id):
            return
        self._inflight.add(message.spool_id)
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
        await self._settle(queue, message, {}, reply, now.timestamp(), accounted=True)

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
        while (
            not self._stopping
            and not queue.paused
            and time.time() >= queue.hold_until
            and not self.blocked()
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
        if not sign:
            return raw
        try:
            return self.signer.sign(raw, vmta)
        except Exception as exc:  # noqa: BLE001 - dkimpy raises several kinds on odd mail
            # A message DKIM cannot sign (no From, a broken header) is sent unsigned:
            # the receiver judges it as any unsigned mail, and nothing is stuck.
            log.warning("cannot DKIM-sign %s, sending it unsigned: %s", spool_id, exc)
            return raw

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
        """Send one message on ``conn``; say whether the connection is finished."""
        spool_id = message.spool_id
        try:
            raw = await asyncio.to_thread(
                self._load, spool_id, queue.vmta, queue.settings.dkim_sign
            )
        except OSError as exc:  # unreadable now: back to incoming/ and to its queue, later
            self.settler.failures.failed(exc)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self.spool.requeue, spool_id)
            queue.defer(message, time.time() + RETRY_SECONDS)
            return True
        if raw is None:
            return False  # gone (removed by an operator): nothing to do
        self._inflight.add(spool_id)
        try:
            return await self._attempt(queue, conn, message, raw)
        except Exception as exc:  # a local failure must not strand the message in active/
            log.exception("delivering %s failed locally; it will be retried", spool_id)
            if spool_id not in self._inflight or spool_id in self.settler.parked:
                return True  # settled (or parked for a retry) before the failure
            reply = NO_ANSWER(f"local error: {exc}")
            # Deferred without a second record when the attempt was already accounted.
            accounted = spool_id in self._accounted
            deferred = dict.fromkeys(message.envelope.recipients, reply) if accounted else {}
            await self._settle(queue, message, deferred, reply, time.time(), accounted=accounted)
            return True
        finally:
            self._accounted.discard(spool_id)

    async def _attempt(
        self, queue: DeliveryQueue, conn: Connection, message: QueuedMessage, raw: bytes
    ) -> bool:
        env = message.envelope
        recipients = self._unsuppressed(queue, message)
        if not recipients:
            await self._settle(queue, message, {}, Reply(0, ""), time.time())
            return False
        sender = return_path(env.sender, recipients, verp=env.extra.get("verp") == "1")
        result = await conn.send(sender, recipients, raw, timeout=queue.settings.data_send_timeout)
        now = time.time()
        now_dt = datetime.fromtimestamp(now, UTC)
        expired = now >= env.received_at + queue.settings.bounce_after
        ctx = self._context(queue, env, conn.source_ip, conn.host, len(raw))
        ctx = replace(
            ctx, esmtp=",".join(sorted(conn.extensions)).upper(), destination_mta=conn.host
        )
        deferred: dict[str, Reply] = {}
        last = Reply(0, "")
        for rcpt in recipients:
            reply = result.replies.get(rcpt, NO_ANSWER("no reply for this recipient"))
            kind = verdict(reply, expired=expired)
            self.records(attempt_record(kind, rcpt, reply, ctx, now=now_dt, table=self.table))
            queue.note_reply(reply, now)
            last = reply
            if kind == "deferred":
                deferred[rcpt] = reply
                queue.transient += 1
            elif kind == "delivered":
                queue.delivered += 1
            else:
                queue.bounced += 1
            self.totals[kind] += 1
        self._accounted.add(message.spool_id)
        await self._settle(queue, message, deferred, last, now, accounted=True)
        if result.closed and (last.code in (0, 421)):
            # The receiver hung up or said 421: hold the whole queue for a retry step
            # instead of reconnecting at once for every waiting message.
            self._queue_failed(queue, last, conn.source_ip, conn.host)
        return result.closed

    async def _settle(
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
        env = message.envelope
        if not accounted and last.code == 0 and last.text:
            ctx = self._context(queue, env, "", "", 0)
            now_dt = datetime.fromtimestamp(now, UTC)
            for rcpt in env.recipients:
                self.records(
                    attempt_record("deferred", rcpt, last, ctx, now=now_dt, table=self.table)
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

    def _moved(self, spool_id: str, deferred: bool) -> None:
        self._inflight.discard(spool_id)
        if deferred:
            self._wake.set()
        else:
            self._unsynced = True

    # -- status and control --------------------------------------------------------------

    def status(self) -> list[QueueStatus]:
        """Every queue's snapshot."""
        now = time.time()
        return [q.status(now) for q in self.queues.values()]

    def matching(self, queue: str, vmta: str | None) -> list[DeliveryQueue]:
        """The queues named ``queue`` (through ``vmta``, or every vmta)."""
        return [q for q in self.queues.values() if q.queue == queue and vmta in (None, q.vmta)]

"""The delivery engine's front door: queues per (destination, vmta), start/stop, control.

:class:`DeliveryEngine` is what the rest of the MTA talks to (the node runtime,
the management endpoint through it, the tests): it owns the queues, the
settings and the counters, and puts spooled messages in their queue. The work
is done by four parts, each in its own module, that share the engine's state:

* :mod:`~mta.delivery.scheduler` — one task that looks at every queue when
  something changes and decides which queue gets a connection when (limits,
  rates, backoff, holds, expiry of waiting mail);
* :mod:`~mta.delivery.connections` — a connection's life: routing and MX, the
  source address, opening, sending messages one by one until it should end,
  and what a failed connection means for its queue;
* :mod:`~mta.delivery.transfer` — one message on an open connection: load and
  sign it, send it, and say what became of it (an :data:`~mta.delivery.attempt.Outcome`);
* :mod:`~mta.delivery.ledger` — every recipient's accounting record and
  counters, then the settlement (:mod:`~mta.delivery.settle`) that moves the
  message out of ``active/``.

Every recipient's outcome becomes one accounting record, written before the
spool forgets the message: a crash in between can send a message twice (at
least once), never lose it. While records cannot be written (a full disk) no
connection opens, and an attempted message is parked in ``active/`` until its
records and its spool move both succeed. Disk work that syncs or signs runs in
worker threads; a rename, an unlink or a read of a file just written costs the
event loop less than the hop to a thread and back, so those run on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from classifiers import RuleTable
from mta.config import Config, effective_settings
from mta.config.model import DomainSettings
from mta.delivery.connections import Connections
from mta.delivery.ledger import Ledger
from mta.delivery.prepare import DEFAULT_VMTA, Signer
from mta.delivery.queue import DeliveryQueue, Override, QueuedMessage
from mta.delivery.routing import Resolver, domain_of
from mta.delivery.scheduler import Scheduler
from mta.delivery.share import Share
from mta.delivery.transfer import Transfer
from mta.spool.durable import Envelope, Spool
from mta.status import QueueStatus

__all__ = ["DeliveryEngine", "RecordSink"]

log = logging.getLogger("mta.delivery.engine")
RecordSink = Callable[[dict[str, object]], None]


class DeliveryEngine:
    """Deliver spooled messages; account for every attempt.

    Set by the runtime after construction: ``suppressed`` (why a recipient is
    suppressed, or None), ``blocked`` (whether accounting records cannot be
    written now: then no connection opens), ``settler.records_written`` and
    ``table``. ``held`` (operators, benchmarks) accepts and queues but opens no
    connection.
    """

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
        share: Share | None = None,
    ) -> None:
        self.spool = spool
        self.share = share or Share()  # this worker's share of the outbound limits
        self.config = config
        self.resolver = resolver
        self.records = records
        self.signer = signer
        self.table = table
        self.host_name = host_name
        self.queues: dict[tuple[str, str], DeliveryQueue] = {}
        self._settings: dict[tuple[str, str | None], tuple[str, DomainSettings]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False  # stop() has begun: nothing new starts
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
        self.scheduler = Scheduler(self)
        self.connections = Connections(self)
        self.transfer = Transfer(self)
        self.ledger = Ledger(self)
        self.settler = self.ledger.settler

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
            queue = DeliveryQueue(
                name, vmta, settings, patterns=patterns, warmup_started=started, share=self.share
            )
            self.queues[(name, vmta)] = queue
            override = self.overrides.get((name, vmta)) or self.overrides.get((name, "*"))
            if override is not None:
                override.apply(queue)
            self.connections.watch(queue)
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
            self.connections.mail_arrived(queue)
        self.scheduler.wake()

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
        self.scheduler.wake()

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
        self.scheduler.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop opening connections; let each finish its current message (up to ``grace``)."""
        self.stopping = True
        self.scheduler.wake()
        self.connections.wake_all()
        await self.scheduler.stop()
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
        await asyncio.to_thread(self.ledger.requeue, sorted(self.ledger.inflight))
        await asyncio.to_thread(self.spool.sync_active)

    def track(self, work: Coroutine[Any, Any, None], name: str | None = None) -> None:
        """Run ``work`` as a task that :meth:`stop` waits for (connections, give-ups)."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- status and control --------------------------------------------------------------

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
        self.scheduler.wake()

    def wake(self) -> None:
        """Ask the scheduler to look at the queues again (e.g. after an override)."""
        self.scheduler.wake()

    def status(self) -> list[QueueStatus]:
        """Every queue's snapshot."""
        now = time.time()
        return [q.status(now) for q in self.queues.values()]

    def matching(self, queue: str, vmta: str | None) -> list[DeliveryQueue]:
        """The queues named ``queue`` (through ``vmta``, or every vmta)."""
        return [q for q in self.queues.values() if q.queue == queue and vmta in (None, q.vmta)]

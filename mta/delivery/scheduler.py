"""Scheduling: which queue gets a connection when, and when to look again.

One task (:class:`Scheduler`) looks at every queue whenever something changes —
a message arrives, a connection ends, a deferred message is moved, an
override lands — or when the nearest retry falls due, and at least once a
second. For each queue (:meth:`Scheduler.tend`) it:

1. lifts an expired throttle override;
2. releases the deferred messages whose retry time has come (``deferred/`` →
   ``incoming/``, in a worker thread);
3. opens connections (:meth:`~mta.delivery.connections.Connections.spawn`)
   while the engine is not held, accounting records can be written, and the
   queue wants one — it has work, is under ``max-smtp-out``, is not paused or
   backing off, and its ``max-conn-rate`` bucket has a token
   (:meth:`~mta.delivery.queue.DeliveryQueue.wants_connection`);
4. expires the messages of a held queue that sat past ``bounce-after``;
5. says when it next needs a look (the nearest retry, hold end, or token).

Between passes it retries parked settlements (:mod:`~mta.delivery.settle`) and
makes the removal of finished messages from ``active/`` durable, at most every
``SYNC_SECONDS`` (one directory fsync for many messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from mta.delivery.attempt import NO_ANSWER
from mta.delivery.queue import DeliveryQueue, Override
from mta.delivery.settle import RETRY_SECONDS

if TYPE_CHECKING:
    from mta.delivery.engine import DeliveryEngine

__all__ = ["EXPIRY_CHECK_SECONDS", "SYNC_SECONDS", "Scheduler"]

log = logging.getLogger("mta.delivery.engine")  # one logger for every part of the engine
SYNC_SECONDS = 0.5  # finished messages' removal from active/ is made durable this often
EXPIRY_CHECK_SECONDS = 10.0  # how often a held queue's waiting messages are checked for expiry


class Scheduler:
    """The engine's scheduling task: tends every queue, then sleeps until needed."""

    def __init__(self, engine: DeliveryEngine) -> None:
        self.engine = engine
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unsynced = False  # finished messages whose removal is not yet synced
        self._synced_at = 0.0

    def wake(self) -> None:
        """Look at the queues again soon (something changed)."""
        self._wake.set()

    def moved(self, deferred: bool) -> None:
        """A message left ``active/``: deferred ones may be due soon; finished ones need a sync."""
        if deferred:
            self._wake.set()
        else:
            self._unsynced = True

    def start(self) -> None:
        """Start the scheduling task."""
        self.task = asyncio.create_task(self._run(), name="mta-scheduler")

    async def stop(self) -> None:
        """Cancel the scheduling task and wait for it to end."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        engine = self.engine
        while not engine.stopping:
            self._wake.clear()
            now, mono = time.time(), time.monotonic()
            nearest = now + 1.0
            for queue in list(engine.queues.values()):
                try:
                    nearest = min(nearest, await self.tend(queue, now, mono))
                except Exception:  # one queue's bug must not stop every other queue
                    log.exception("scheduling %s/%s failed", queue.queue, queue.vmta)
            if engine.settler.due(mono):
                await engine.settler.retry()
            try:
                if self._unsynced and mono - self._synced_at >= SYNC_SECONDS:
                    self._unsynced, self._synced_at = False, mono
                    await asyncio.to_thread(engine.spool.sync_active)
            except OSError as exc:
                log.error("cannot sync the spool's active/ directory: %s", exc)
            timeout = max(0.0, min(nearest - time.time(), 1.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def tend(self, queue: DeliveryQueue, now: float, mono: float) -> float:
        """One look at one queue: release due retries, open connections, expire the
        stale; return when it next needs a look."""
        engine = self.engine
        if queue.override_expires <= now:
            Override.clear(queue)
        due = queue.due(now)
        if due:
            moved = await asyncio.to_thread(self._release, [m.spool_id for m in due])
            for message in due[:moved]:
                queue.push(message)
            for message in due[moved:]:  # still in deferred/: still queued, tried again soon
                queue.defer(message, now + RETRY_SECONDS)
        while not engine.held and not engine.blocked() and queue.wants_connection(mono, now):
            if not engine.connections.spawn(queue):
                break  # every shared slot is held by another worker: look again soon
        nearest = queue.next_due()
        if not queue.ready:
            return nearest
        held = max(queue.retry_at, queue.hold_until)
        if queue.paused or held > now:
            # Nothing is sent from a held queue, but its messages still expire on time.
            if now - queue.expiry_checked_at >= EXPIRY_CHECK_SECONDS:
                queue.expiry_checked_at = now
                engine.ledger.expire_waiting(
                    queue, NO_ANSWER(queue.last_error or "queue held"), now
                )
            return min(nearest, held if held > now else now + EXPIRY_CHECK_SECONDS)
        if not engine.held and queue.connections < min(
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
                self.engine.spool.release(spool_id)
            except OSError as exc:
                self.engine.settler.failures.failed(exc)
                return n
        return len(ids)

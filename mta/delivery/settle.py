"""The last step of an attempt: the message leaves ``active/`` — or is parked until it can.

After an attempt the spool either forgets the message (delivered or bounced for
good: ``finish``) or keeps the recipients still to try (``defer``). Two things
must hold first, and on a full disk neither may:

* the attempt's accounting records are written (the accounting writer holds
  them until it can): a message whose record is only in memory stays in
  ``active/``, so a crash sends it again and writes the record again rather
  than losing the record;
* the move itself works (``defer`` rewrites the envelope, which needs space).

A message that cannot move yet is *parked*: it stays in ``active/``, counts as
queued in its queue's status, and the engine retries the move every
``RETRY_SECONDS`` until it works. A stop puts parked messages back in
``incoming/``; a crash leaves them in ``active/``, which recovery requeues.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mta.delivery.queue import DeliveryQueue, QueuedMessage
from mta.failurelog import FailureLog
from mta.spool.durable import Envelope, Spool

log = logging.getLogger("mta.delivery.engine")
RETRY_SECONDS = 1.0  # how often parked messages are tried again


@dataclass(slots=True)
class Settlement:
    """Where one attempted message goes: ``deferred`` recipients retry at ``at``; none: done."""

    queue: DeliveryQueue
    message: QueuedMessage
    deferred: list[str] = field(default_factory=list)
    at: float = 0.0
    reason: str = ""

    @property
    def spool_id(self) -> str:
        """The message's spool id."""
        return self.message.spool_id


def move(spool: Spool, settlement: Settlement) -> Envelope | None:
    """Do the spool move (in a worker thread); the saved envelope when deferred.

    Raises OSError when the disk refuses (the message is then still in ``active/``,
    untouched: the envelope rewrite leaves no scratch file behind).
    """
    if settlement.deferred:
        return spool.defer(
            settlement.spool_id, settlement.at, settlement.reason, settlement.deferred
        )
    spool.finish(settlement.spool_id, sync=False)
    return None


class Settler:
    """Move attempted messages out of ``active/``, parking those that cannot move yet.

    ``records_written`` (set by the runtime) writes the accounting records held
    so far and says whether all are written; ``moved(spool_id, deferred)`` tells
    the engine a message left ``active/``.
    """

    def __init__(self, spool: Spool, moved: Callable[[str, bool], None]) -> None:
        self.spool = spool
        self.moved = moved
        self.records_written: Callable[[], bool] = lambda: True
        self.parked: dict[str, Settlement] = {}
        self.tried_at = 0.0
        # Shared by every spool move the engine retries (one outage, one log story).
        self.failures = FailureLog(log, "moving messages between spool states")

    def due(self, mono: float) -> bool:
        """Whether parked messages should be tried again now."""
        return bool(self.parked) and mono - self.tried_at >= RETRY_SECONDS

    async def settle(self, settlement: Settlement) -> None:
        """Move the message now, or park it (still queued, tried again later)."""
        if not await self._move(settlement):
            self.parked[settlement.spool_id] = settlement
            settlement.queue.parked += 1

    async def _move(self, settlement: Settlement) -> bool:
        try:
            if not self.records_written():
                return False
            if settlement.deferred:  # the envelope is rewritten and synced: off the loop
                saved = await asyncio.to_thread(move, self.spool, settlement)
            else:  # one unlink (its directory is synced later, in a batch): cheaper here
                saved = move(self.spool, settlement)
        except OSError as exc:
            self.failures.failed(exc)
            return False
        self.failures.succeeded()
        if saved is not None:
            settlement.queue.defer(QueuedMessage(settlement.spool_id, saved), settlement.at)
        self.moved(settlement.spool_id, saved is not None)
        return True

    async def retry(self, *, every: bool = False) -> None:
        """Try the parked messages again, oldest first; stop at the first that still fails
        (unless ``every``: at a stop, each gets its chance)."""
        self.tried_at = time.monotonic()
        for spool_id, settlement in list(self.parked.items()):
            if await self._move(settlement):
                del self.parked[spool_id]
                settlement.queue.parked -= 1
            elif not every:
                return

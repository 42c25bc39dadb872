"""One worker's share of the outbound limits when ``smtp-workers`` runs several processes.

Limits are per MTA, as in PowerMTA: ``max-smtp-out 20`` for a domain means 20
connections from the whole MTA, whatever ``smtp-workers`` says. Workers share
nothing at run time, so each enforces a fixed share of every limit, computed
from its index and the worker count, such that the shares add up to the
configured value:

* a concurrency cap ``c`` (``max-smtp-out``, an override's ``max_smtp_out``)
  with ``c >= N`` workers: ``c // N`` each, the remainder one apiece to the
  lowest-index workers (:func:`cap_share`). Every worker gets at least one, so
  the mail each has spooled can always go;
* a cap ``c < N``: a fixed split would leave some worker a share of 0 and its
  spooled mail stranded (a message lives in the spool of the worker that
  accepted it). Instead the ``c`` connections are *slots* taken at run time: a
  worker opens a connection only while it holds an exclusive ``flock`` on one of
  ``c`` slot files of the queue (:class:`Slots`), so the whole MTA never has more
  than ``c`` open and every worker gets a turn. The kernel drops the lock when
  the connection ends or its process dies (``kill -9`` leaks no slot);
* a rate (``max-msg-rate``, ``max-conn-rate``, ``backoff-max-msg-rate``, the
  warmup's rate of the day, an override's rate): ``rate / N`` each
  (:func:`rate_share`); token buckets take fractional rates.

The shares are static: a worker that has no mail for a domain leaves its share
unused (the kernel spreads connections evenly, so each worker's mix is much the
same). Inbound limits (``total-max-smtp-in`` and the other session limits) are
not split: they count per worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from mta.config.values import Rate

__all__ = ["SLOT_DIR", "Share", "Slots", "cap_share", "rate_share"]

log = logging.getLogger("mta.delivery.engine")
SLOT_DIR = "out-slots"  # under the configured spool directory, which every worker shares


def cap_share(cap: int, index: int, count: int) -> int:
    """Worker ``index`` of ``count``'s share of concurrency cap ``cap``: ``cap // count``,
    plus one for the ``cap % count`` lowest indexes (the shares add up to ``cap``)."""
    if count <= 1:
        return cap
    base, extra = divmod(max(cap, 0), count)
    return base + (1 if index < extra else 0)


def rate_share(rate: Rate, count: int) -> Rate:
    """One worker's share of ``rate`` among ``count`` (unlimited stays unlimited)."""
    if count <= 1 or rate.is_unlimited:
        return rate
    return Rate(rate.count / count, rate.per_seconds)


@dataclass(frozen=True, slots=True)
class Share:
    """Which worker this is, of how many, and where the queues' connection slots live."""

    index: int = 0
    count: int = 1
    slot_dir: Path | None = None  # shared by every worker (None: one process, no slots)

    def cap(self, cap: int) -> int:
        """The connections this worker may have open for a queue capped at ``cap``
        (a cap below the worker count: all of it, each connection holding a slot)."""
        return cap if self.slotted(cap) else cap_share(cap, self.index, self.count)

    def slotted(self, cap: int) -> bool:
        """Whether a queue capped at ``cap`` takes a slot per connection (``0 < cap < N``)."""
        return self.count > 1 and 0 < cap < self.count

    def rate(self, rate: Rate) -> Rate:
        """This worker's share of ``rate``."""
        return rate_share(rate, self.count)


class Slots:
    """The ``cap`` connection slots of one (queue, vmta) shared by every worker.

    Slot ``i`` is the file ``<slot_dir>/<hash>-<i>``; holding an exclusive
    ``flock`` on it is holding the slot. :meth:`take` tries each slot without
    waiting (starting at the worker's index, so workers do not all try the same
    one first) and returns the open descriptor or None; :meth:`give` closes it,
    which releases the lock.
    """

    def __init__(self, slot_dir: Path, queue: str, vmta: str, index: int) -> None:
        self.dir = slot_dir
        self.stem = hashlib.sha256(f"{queue}\0{vmta}".encode()).hexdigest()[:24]
        self.index = index

    def take(self, cap: int) -> int | None:
        """Hold a free slot of ``cap`` (its descriptor), or None when all are held."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.error("cannot make the connection slot directory %s: %s", self.dir, exc)
            return None
        for n in range(cap):
            slot = (self.index + n) % cap
            try:
                fd = os.open(self.dir / f"{self.stem}-{slot}", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                log.error("cannot open connection slot %s: %s", self.dir, exc)
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return fd
        return None

    @staticmethod
    def give(fd: int) -> None:
        """Release the slot held by ``fd``."""
        with contextlib.suppress(OSError):
            os.close(fd)

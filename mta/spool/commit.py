"""Group commit: many concurrent accepts, one worker-thread hop and one directory sync.

Each SMTP session (or pickup file) awaits :meth:`GroupCommit.accept`; while one
batch is being written and fsynced in a worker thread, new requests gather, and
the next batch takes them all. Under load a batch holds many messages, so the
event loop hands work to a thread once per batch instead of once per message,
and ``incoming/`` is synced once per batch. Every caller still hears back only
after its own messages are on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mta.errors import LocalError
from mta.spool.durable import Envelope, Spool

__all__ = ["GroupCommit"]

Item = tuple[bytes, Envelope, str | None]


class GroupCommit:
    """Batch :meth:`Spool.accept_many` calls from many coroutines."""

    def __init__(self, spool: Spool, *, max_batch: int = 256) -> None:
        self.spool = spool
        self.max_batch = max_batch
        self._pending: list[tuple[Sequence[Item], asyncio.Future[list[str]]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0

    async def accept(self, items: Sequence[Item]) -> list[str]:
        """Spool ``items``; return their ids once they are durable (raises LocalError)."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="spool-group-commit")
        return await future

    def _take(self) -> list[tuple[Sequence[Item], asyncio.Future[list[str]]]]:
        batch: list[tuple[Sequence[Item], asyncio.Future[list[str]]]] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0][0]) <= self.max_batch):
            entry = self._pending.pop(0)
            batch.append(entry)
            size += len(entry[0])
        return batch

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            flat = [item for items, _ in batch for item in items]
            self.batches += 1
            try:
                ids = await asyncio.to_thread(self.spool.accept_many, flat)
            except LocalError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            pos = 0
            for items, future in batch:
                if not future.done():
                    future.set_result(ids[pos : pos + len(items)])
                pos += len(items)

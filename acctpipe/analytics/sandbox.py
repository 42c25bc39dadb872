"""Run user SQL in worker processes that cannot reach the host's files.

A DuckDB instance's safety switches (``enable_external_access``,
``memory_limit``, ``lock_configuration``) apply to the whole instance, and the
tailer's instance needs files. So user SQL never runs there: :class:`SqlSandbox`
keeps up to ``workers`` processes (:mod:`acctpipe.analytics._worker`), each
with its own locked-down DuckDB instance over a read-only snapshot
(:mod:`acctpipe.analytics.snapshot`, at most ``max_age`` seconds old), capped in
memory and threads, forbidden to write any file. The worker bounds the result in
rows and in bytes while it fetches; the parent reads at most that much back. A
query past its time limit is interrupted by the worker; one that does not stop
within a grace period has its worker killed (and a fresh one is started on
demand), and so is one that ran out of memory or kept far more than its
memory limit resident after a query: its swollen heap would fail later,
smaller queries. The parse-tree guard still runs, in the worker, as the
second line.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from acctpipe.analytics._guard import MAX_SQL_LENGTH
from acctpipe.analytics.errors import (
    EventsUnavailableError,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
)
from acctpipe.analytics.result import JsonRows, QueryResult
from acctpipe.analytics.snapshot import Snapshots
from acctpipe.analytics.source import SnapshotSource

__all__ = ["MAX_SQL_LENGTH", "SqlSandbox"]

_GRACE: Final = 2.0  # seconds a worker gets past the timeout to report the interrupt
_START: Final = 30.0  # seconds a new worker may take to come up (a loaded machine)
_SLACK: Final = 1 << 20  # reply bytes beyond the row budget: column names, types
_IDLE_CLOSE = 10.0  # seconds an idle worker keeps its snapshot open (deleted copies: disk)
_BASELINE: Final = 256 << 20  # resident bytes a worker may keep beyond its memory limit
_PAGE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _WorkerGoneError(Exception):
    """The worker died or broke the protocol; it is discarded."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, limits: dict[str, float]) -> None:
        paths = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "acctpipe.analytics._worker", json.dumps(limits)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd="/",  # no relative path means anything there
            # Nothing of the server's environment (database URLs, secrets) is passed on.
            env={"PYTHONPATH": paths, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        self._buffer = bytearray()  # grown in place: a 16 MiB answer is not copied per read
        try:
            self.read(time.monotonic() + _START, 1024)
        except BaseException:
            self.kill()
            raise

    def ask(
        self, request: dict[str, Any], deadline: float, limit: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request; its reply and row lines, ``limit`` bytes at most, by ``deadline``."""
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except OSError as exc:
            raise _WorkerGoneError from exc
        head = self.read(deadline, limit)
        count = head.get("rows") if head.get("ok") else 0
        if not isinstance(count, int) or count < 0:
            raise _WorkerGoneError
        lines: list[bytes] = []
        for _ in range(count):
            line = self.line(deadline, limit)
            limit -= len(line)
            lines.append(line)
        return head, lines

    def read(self, deadline: float, limit: int) -> dict[str, Any]:
        """One JSON reply line, at most ``limit`` bytes, before ``deadline``."""
        try:
            reply: dict[str, Any] = json.loads(self.line(deadline, limit))
        except ValueError as exc:
            raise _WorkerGoneError from exc
        return reply

    def line(self, deadline: float, limit: int) -> bytes:
        """One line, at most ``limit`` bytes, before ``deadline``."""
        stdout: IO[bytes] | None = self.proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        scanned = 0
        while (end := self._buffer.find(b"\n", scanned)) < 0:
            scanned = len(self._buffer)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            # poll, not select: a busy server's descriptors may be numbered past 1024.
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(left * 1000):
                raise TimeoutError
            data = os.read(fd, 1 << 20)
            if not data:
                raise _WorkerGoneError
            self._buffer += data
            if len(self._buffer) > max(limit, 0):
                raise _WorkerGoneError
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def kill(self) -> None:
        """End the process now."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class _Pool:
    """Up to ``size`` workers with the same limits, started on demand, shared by sandboxes."""

    def __init__(self, limits: dict[str, float], size: int) -> None:
        self.limits = limits
        self.size = size
        self._idle: list[_Worker] = []
        self._started = 0
        self._cond = threading.Condition()
        atexit.register(_stop_all, self._idle)

    def take(self) -> _Worker:
        """An idle worker, a new one, or (all busy) the next one given back."""
        with self._cond:
            while not self._idle and self._started >= self.size:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
        try:
            return _Worker(self.limits)
        except BaseException as exc:
            with self._cond:
                self._started -= 1
                self._cond.notify()
            if isinstance(exc, TimeoutError | _WorkerGoneError | OSError):
                raise EventsUnavailableError(
                    f"the SQL worker process did not start ({type(exc).__name__}): see the"
                    " server's log; queries are retried on a new one"
                ) from exc
            raise

    def swollen(self, worker: _Worker) -> bool:
        """Whether ``worker`` keeps far more than its memory limit resident, or most of its cap.

        Read from ``/proc`` (Linux); elsewhere only an out-of-memory answer retires one.
        """
        try:
            statm = Path(f"/proc/{worker.proc.pid}/statm").read_bytes()
            size, resident = (int(n) * _PAGE for n in statm.split()[:2])
        except (OSError, ValueError):
            return False
        limit, space = self.limits["memory_limit"], self.limits["address_space"]
        # A fresh worker (interpreter, DuckDB, the guard's tables) holds ~100 MiB.
        return resident > limit + _BASELINE or size > space - limit

    def give(self, worker: _Worker, healthy: bool) -> None:
        """Take ``worker`` back; one that timed out or broke is killed instead."""
        if not healthy:
            worker.kill()
        with self._cond:
            if healthy:
                self._idle.append(worker)
            else:
                self._started -= 1
            self._cond.notify()


_POOLS: dict[tuple[int, ...], _Pool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(memory_limit: int, threads: int, size: int) -> _Pool:
    # The address space covers DuckDB's memory_limit, its allocator's slack, the
    # interpreter and the fetched rows; past it the worker's allocations fail, not the host's.
    limits = {
        "memory_limit": memory_limit,
        "threads": threads,
        "address_space": 2 * memory_limit + (2 << 30),
        "idle_close": _IDLE_CLOSE,
    }
    key = (memory_limit, threads, size)
    with _POOLS_LOCK:
        found = _POOLS.get(key)
        if found is None:
            found = _POOLS[key] = _Pool(limits, size)
        return found


class SqlSandbox:
    """User SQL over snapshots of ``source``, in up to ``workers`` locked-down processes.

    Workers with the same limits are shared by every sandbox of the process (a
    request names its snapshot), started on first use and ended with the process.
    """

    def __init__(
        self,
        source: SnapshotSource,
        *,
        workers: int = 4,
        memory_limit: int = 512 << 20,
        threads: int = 1,
        max_age: float = 5.0,
    ) -> None:
        if workers < 1 or threads < 1 or memory_limit < (16 << 20) or max_age < 0:
            # A caller bug, not input (stays a ValueError): settings are validated when read.
            raise ValueError("workers and threads >= 1, memory_limit >= 16 MiB, max_age >= 0")
        self.snapshots = Snapshots(source, max_age=max_age)
        self._pool = _pool(memory_limit, threads, workers)

    def run(self, sql: str, *, max_rows: int, max_bytes: int, timeout: float) -> QueryResult:
        """Run one read-only SELECT: at most ``max_rows`` rows and ``max_bytes`` of JSON rows.

        The result's ``snapshot_at`` says how old its data is. Raises
        :class:`SqlRefusedError`, :class:`SqlTimeoutError`, :class:`SqlError`
        (input errors) or :class:`~acctpipe.analytics.errors.EventsUnavailableError`.
        """
        # Caller bugs, not input (plain ValueErrors): the API's query model bounds these.
        if max_rows < 1 or max_bytes < 1:
            raise ValueError("max_rows and max_bytes must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if len(sql) > MAX_SQL_LENGTH:
            raise SqlRefusedError(f"the query is longer than {MAX_SQL_LENGTH} characters")
        with self.snapshots.lease() as snapshot:
            request = {
                "snapshot": str(snapshot.path),
                "sql": sql,
                "max_rows": max_rows,
                "max_bytes": max_bytes,
                "timeout": timeout,
            }
            worker = self._pool.take()
            healthy = False
            try:
                deadline = time.monotonic() + timeout + _GRACE
                reply, lines = worker.ask(request, deadline, max_bytes + _SLACK + 4 * len(sql))
                # A worker whose heap a query swelled fails the next, smaller queries with
                # out-of-memory errors under its address-space cap: it is replaced instead.
                healthy = reply.get("kind") != "memory" and not self._pool.swollen(worker)
            except TimeoutError:
                raise SqlTimeoutError(timeout) from None
            except _WorkerGoneError:
                raise SqlError(
                    "the query stopped its worker process (out of memory?): select fewer or"
                    " smaller values, or aggregate"
                ) from None
            finally:
                self._pool.give(worker, healthy)
        return _result(reply, lines, timeout, snapshot.taken_at)

    def close(self) -> None:
        """Delete this sandbox's snapshots (the shared workers stay for other sandboxes)."""
        self.snapshots.close()


def _stop_all(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().kill()


def _result(
    reply: dict[str, Any], lines: list[bytes], timeout: float, taken_at: datetime
) -> QueryResult:
    if not reply.get("ok"):
        kind, reason = reply.get("kind"), str(reply.get("reason") or "the query failed")
        if kind == "timeout":
            raise SqlTimeoutError(timeout)
        if kind == "refused":
            raise SqlRefusedError(reason)
        raise SqlError(reason)
    truncated_by = reply.get("truncated_by")
    return QueryResult(
        columns=[str(c) for c in reply["columns"]],
        types=[str(t) for t in reply["types"]],
        rows=JsonRows(lines),
        truncated=truncated_by is not None,
        elapsed_ms=float(reply["elapsed_ms"]),
        truncated_by=str(truncated_by) if truncated_by else None,
        snapshot_at=taken_at,
    )

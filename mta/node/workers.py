"""``smtp-workers N``: several MTA processes sharing the listening sockets, one spool each.

One Python process uses one core; ``acctpipe mta`` with ``smtp-workers 2`` uses
two. The supervisor (the process started, whose pid ``mta.json`` names) binds a
socket per worker to every ``smtp-listener`` address (``SO_REUSEPORT``: the
kernel spreads new connections over them evenly), then forks the workers. Each
worker is a whole MTA (:class:`~mta.node.process.MtaServer`): it accepts on its
sockets and delivers what *it* accepted, from a spool of its own. The
supervisor keeps every socket open, so connections the kernel gives a worker
that has just died wait in the backlog for the worker started in its place.
Nothing is shared between workers at run time, so each keeps the single
process's guarantees as they are: fsync before 250, records before the spool
forgets a message, recovery of ``active/`` after a crash. Outbound limits
stay per MTA: each worker enforces its share of them
(:mod:`mta.delivery.share`; a cap below the worker count is a set of slot
locks under the configured spool's ``out-slots/``).

What each worker owns (worker 0 is exactly the single-process MTA):

* the spool: worker 0 the configured one, worker ``k`` its ``worker-k/``
  subdirectory. Worker 0 adopts, at start, the messages of ``worker-k/``
  directories no worker runs for (``smtp-workers`` lowered, or back to 1):
  nothing spooled is stranded;
* the accounting files and reject logs: worker 0 writes the configured names,
  worker ``k`` ``NAME-wk.csv`` beside them (rotated to ``NAME-wk-<time>.csv``).
  Each file is one ordered stream; the ingest tails every ``*.csv`` in the
  directory and reads each file exactly once, as it does for rotated files;
* pickup folders, the management port and ``mta.json``: worker 0 only (its
  status and queue controls cover its own queues).

The supervisor forwards SIGHUP (reload) and SIGTERM/SIGINT (graceful stop) to
every worker, and starts a worker again when one dies (a worker that dies in
its first seconds stops everything: a broken config or data directory). The
workers die with the supervisor (``PR_SET_PDEATHSIG``), so ``kill -9`` of the
supervisor is a crash of the whole MTA: a restart recovers every spool.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mta.config import Config
from mta.config.model import Listener
from mta.spool.durable import Spool

__all__ = [
    "WorkerRole",
    "adopt_orphans",
    "bind_listeners",
    "for_worker",
    "supervise",
    "worker_count",
    "worker_file",
    "worker_spool",
]

log = logging.getLogger("mta")
BACKLOG = 511
EARLY_DEATH = 5.0  # a worker dying sooner after its start stops the MTA instead of a restart
_WORKER_DIR = re.compile(r"worker-(\d+)")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerRole:
    """Which worker a process is, of how many, and the listening sockets it shares."""

    index: int
    count: int
    sockets: tuple[socket.socket, ...] = ()  # this worker's, one per smtp-listener, in order
    supervisor_pid: int = 0


def worker_count(config: Config) -> int:
    """The number of workers ``smtp-workers`` asks for (0: one per CPU)."""
    return config.smtp_workers or os.cpu_count() or 1


def worker_file(path: str, index: int) -> str:
    """The accounting or reject-log file worker ``index`` writes for configured ``path``."""
    if index == 0:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-w{index}{p.suffix}"))


def worker_spool(root: Path, index: int) -> Path:
    """The spool directory of worker ``index`` (worker 0: the configured one)."""
    return root if index == 0 else root / f"worker-{index}"


def for_worker(config: Config, index: int) -> Config:
    """``config`` as worker ``index`` runs it: its own file names, worker 0's extras only."""
    if index == 0:
        return config
    return replace(
        config,
        acct_files=tuple(replace(a, path=worker_file(a.path, index)) for a in config.acct_files),
        reject_logs=tuple(replace(r, path=worker_file(r.path, index)) for r in config.reject_logs),
        pickups=(),
        http_mgmt_port=None,
    )


def adopt_orphans(root: Path, count: int) -> int:
    """Move the messages of ``worker-k/`` spools with ``k >= count`` into the spool at ``root``.

    Called by worker 0 before it rebuilds its queues (no worker runs for those
    directories). Each orphan spool is recovered first (``active/`` back to
    ``incoming/``); its ``incoming/`` and ``deferred/`` messages are renamed into
    ``root``'s, then both directories synced. Returns the messages moved.
    """
    moved = 0
    if not root.is_dir():
        return 0
    for entry in sorted(root.iterdir()):
        match = _WORKER_DIR.fullmatch(entry.name)
        if match is None or int(match.group(1)) < count or not entry.is_dir():
            continue
        orphan = Spool(entry, keep_done=False)
        requeued, poisoned = orphan.recover()
        if poisoned:
            log.warning("%s: %d message(s) quarantined in its bad/", entry, poisoned)
        own = Spool(root, keep_done=False)
        for state in ("incoming", "deferred"):
            for spool_id in orphan.ids(state):
                orphan.path(state, spool_id).replace(own.path(state, spool_id))
                moved += 1
            _fsync_dir(root / state)
            _fsync_dir(entry / state)
        log.info("adopted the spool of %s (%d requeued after a crash)", entry.name, requeued)
    return moved


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bind_listeners(listeners: Sequence[Listener], count: int) -> list[tuple[socket.socket, ...]]:
    """For each of ``count`` workers, a socket per ``smtp-listener``, all bound with
    ``SO_REUSEPORT`` to the same address (the first its host resolves to; port 0 is chosen
    once): the kernel spreads new connections evenly over the workers' sockets."""
    per_worker: list[list[socket.socket]] = [[] for _ in range(count)]
    try:
        for spec in listeners:
            host = spec.address.host or None
            port = spec.address.port if spec.address.port is not None else 25
            family, kind, proto, _, addr = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            for own in per_worker:
                sock = socket.socket(family, kind, proto)
                own.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(addr)
                addr = sock.getsockname()  # port 0: the others take the port the first got
                sock.listen(BACKLOG)
                sock.setblocking(False)
    except OSError:
        for own in per_worker:
            for sock in own:
                sock.close()
        raise
    return [tuple(own) for own in per_worker]


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when the supervisor dies (Linux; else no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request was in place
        os._exit(1)


_SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


def _spawn(role: WorkerRole, run: Callable[[WorkerRole], int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _die_with_parent(role.supervisor_pid)
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        code = run(role)
    except BaseException:
        log.exception("smtp worker %d failed", role.index)
    finally:
        logging.shutdown()
        os._exit(code)


def supervise(config: Config, run: Callable[[WorkerRole], int], *, grace: float = 60.0) -> int:
    """Bind the listeners, fork ``smtp-workers`` workers each calling ``run(role)``, and
    supervise them until SIGTERM/SIGINT (SIGHUP is passed on). Returns the exit code."""
    count = worker_count(config)
    sockets = bind_listeners(config.listeners, count)
    me = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    workers: dict[int, tuple[int, float]] = {}  # pid -> (index, started at)
    code = 0
    try:
        for index in range(count):
            pid = _spawn(WorkerRole(index, count, sockets[index], me), run)
            workers[pid] = (index, time.monotonic())
        log.info("MTA supervisor %d: %d smtp workers", me, count)
        while workers:
            info = signal.sigtimedwait(_SIGNALS, 1.0)
            sig = info.si_signo if info is not None else 0
            if sig == signal.SIGHUP:
                _send(workers, signal.SIGHUP)
            elif sig in (signal.SIGTERM, signal.SIGINT):
                _send(workers, signal.SIGTERM)
                _stop_all(workers, grace)
            for pid, index, started, status in _reap(workers, block=False):
                log.error("smtp worker %d (pid %d) ended: %s", index, pid, _describe(status))
                if time.monotonic() - started < EARLY_DEATH:
                    code = 1
                    _send(workers, signal.SIGTERM)
                    _stop_all(workers, grace)
                    break
                new = _spawn(WorkerRole(index, count, sockets[index], me), run)
                workers[new] = (index, time.monotonic())
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for own in sockets:
            for sock in own:
                sock.close()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    return code


def _send(workers: dict[int, tuple[int, float]], sig: signal.Signals) -> None:
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _stop_all(workers: dict[int, tuple[int, float]], grace: float) -> None:
    """Wait for every worker to finish its graceful stop; kill those still there after
    ``grace`` seconds (their spools recover at the next start)."""
    deadline = time.monotonic() + grace
    while workers and time.monotonic() < deadline:
        _reap(workers, block=False)
        if workers:
            time.sleep(0.05)
    _send(workers, signal.SIGKILL)
    while workers:
        _reap(workers, block=True)


def _reap(
    workers: dict[int, tuple[int, float]], *, block: bool
) -> list[tuple[int, int, float, int]]:
    ended = []
    while workers:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            workers.clear()
            break
        if pid == 0:
            break
        found = workers.pop(pid, None)
        if found is not None:
            ended.append((pid, found[0], found[1], status))
        if block:
            break
    return ended


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"

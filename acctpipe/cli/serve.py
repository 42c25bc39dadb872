"""``acctpipe serve``: the HTTP API, the webhook worker and (optionally) the tailer.

With ``workers`` above 1 this process supervises that many worker processes
(spawned, not forked: the parent never started a thread or a loop they would
inherit). Each binds its own socket to the port with ``SO_REUSEPORT``, so the
kernel spreads new connections among them and no worker waits on another's
accept. The work that must run once runs in worker 0 only: the webhook worker
(its leases would tolerate two, but one is enough) and the ``delivery.summary``
events. The tailer and the ESP intake each write one file a single process must
own (the DuckDB store, the ESP accounting file), so they are refused with more
than one worker. Worker 0 starts, migrates the store and answers first; the
others then start one after another.

Like gunicorn's arbiter and uvicorn's supervisor, a worker that dies after
starting is reported and replaced; one that cannot start, or more than
:data:`RESTARTS_PER_MINUTE` deaths in a minute (a crash loop), stops every
worker and the command exits 1. SIGTERM or SIGINT to the supervisor sends
SIGTERM to every worker (which finish their requests and deliveries as one
process does) and waits for them; workers ignore SIGINT, so a Ctrl-C at a
terminal reaches them once, through the supervisor. A worker whose supervisor
is gone (kill -9) stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections import deque
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Final

from rich.console import Console

from acctpipe._logs import configure_logging
from acctpipe.node.api import Node, NodeOptions

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

__all__ = ["RESTARTS_PER_MINUTE", "run_serve"]

log = logging.getLogger("acctpipe.serve")
RESTARTS_PER_MINUTE: Final = 5  # more worker deaths than this in 60 s: give up, exit 1
_READY_TIMEOUT: Final = 120.0  # seconds for one worker to open the stores and listen
_STOP_TIMEOUT: Final = 90.0  # seconds for the workers to finish, then SIGKILL
_PARENT_POLL: Final = 1.0  # seconds between a worker's checks that its supervisor lives


def _describe(options: NodeOptions) -> str:
    what = ["API", "webhook worker" if options.webhooks else "", "tailer" if options.watch else ""]
    return " + ".join(w for w in what if w)


async def _main(options: NodeOptions, out: Console) -> int:
    from acctpipe.api.mtalink import HttpMtaLink

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mta = HttpMtaLink(options.mta_url) if options.mta_url else None
    node = Node(options, mta=mta)
    await node.start()
    out.print(f"serving {_describe(options)} at {node.url} (Ctrl-C to stop)")
    out.print(f"  dashboard {node.url}/   reference {node.url}/docs   health {node.url}/readyz")
    try:
        await stop.wait()
    finally:
        out.print("stopping: finishing requests, webhook deliveries and the current batch")
        await node.stop()
    return 0


def run_serve(
    options: NodeOptions, out: Console, *, verbose: bool, json_logs: bool = False, workers: int = 1
) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code."""
    configure_logging(verbose, json_logs=json_logs)
    if workers <= 1:
        return asyncio.run(_main(options, out))
    return _Supervisor(options, out, workers, verbose=verbose, json_logs=json_logs).run()


# --- a worker process ------------------------------------------------------------------


def _worker(
    options: NodeOptions, index: int, ready: Connection, verbose: bool, json_logs: bool
) -> None:
    """A worker process's entry point (spawned): serve until SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor relays a Ctrl-C
    configure_logging(verbose, json_logs=json_logs)
    asyncio.run(_worker_main(options, index, ready))


async def _worker_main(options: NodeOptions, index: int, ready: Connection) -> None:
    from acctpipe.api.mtalink import HttpMtaLink

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:
        while not stop.is_set():
            await asyncio.sleep(_PARENT_POLL)
            if os.getppid() != parent:
                log.error("API worker %d: the supervisor is gone; stopping", index)
                stop.set()

    node = Node(options, mta=HttpMtaLink(options.mta_url) if options.mta_url else None)
    try:
        await node.start()
    except BaseException as exc:
        ready.send(f"{type(exc).__name__}: {exc}")
        raise
    ready.send(None)
    ready.close()
    watcher = asyncio.create_task(orphaned(), name="supervisor-watch")
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        await node.stop()


# --- the supervisor ----------------------------------------------------------------------


class _StartError(Exception):
    """A worker could not start: the command exits 1."""


class _Supervisor:
    """Start ``workers`` worker processes, replace those that die, stop them on a signal."""

    def __init__(
        self, options: NodeOptions, out: Console, workers: int, *, verbose: bool, json_logs: bool
    ) -> None:
        self.options = options
        self.out = out
        self.count = workers
        self.verbose = verbose
        self.json_logs = json_logs
        self.context = multiprocessing.get_context("spawn")
        self.procs: list[BaseProcess | None] = [None] * workers
        self.deaths: deque[float] = deque()
        self.signals: list[int] = []
        self._wake = -1

    def _options(self, index: int, port: int) -> NodeOptions:
        opts = replace(self.options, port=port, reuse_port=True)
        if index == 0:
            return opts
        return replace(opts, webhooks=False, summary_every=0.0)  # worker 0's alone

    def run(self) -> int:
        """Run until a signal (0) or a failure (1)."""
        holder: socket.socket | None = None
        port = self.options.port
        if port == 0:  # pick the port once, and hold it until the end, for every worker
            holder = _hold_port(self.options.host)
            port = holder.getsockname()[1]
        rfd, wfd = os.pipe()
        os.set_blocking(wfd, False)
        self._wake = rfd
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        old_wakeup = signal.set_wakeup_fd(wfd)
        for sig in previous:
            signal.signal(sig, lambda signum, _frame: self.signals.append(signum))
        code = 1
        try:
            for index in range(self.count):
                if self.signals or not self._start(index, port):
                    break
            if not self.signals:
                host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
                url = f"http://{host}:{port}"
                self.out.print(
                    f"serving {_describe(self.options)} at {url} "
                    f"({self.count} worker processes, Ctrl-C to stop)"
                )
                self.out.print(f"  dashboard {url}/   reference {url}/docs   health {url}/readyz")
                code = self._watch(port)
            else:
                code = 0
        except _StartError as exc:
            log.error("%s; stopping every worker", exc)
        finally:
            if self.signals:
                self.out.print("stopping: finishing requests and webhook deliveries")
            if not self._stop_all():
                code = 1
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(rfd)
            os.close(wfd)
            if holder is not None:
                holder.close()
        return code

    def _start(self, index: int, port: int) -> bool:
        """Start worker ``index`` and wait until it answers; False when a signal came first."""
        mine, theirs = self.context.Pipe(duplex=False)
        proc = self.context.Process(
            target=_worker,
            args=(self._options(index, port), index, theirs, self.verbose, self.json_logs),
            name=f"acctpipe-api-{index}",
        )
        proc.start()
        theirs.close()
        self.procs[index] = proc
        deadline = time.monotonic() + _READY_TIMEOUT
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _StartError(f"API worker {index} did not start within {_READY_TIMEOUT}s")
                woke = wait([mine, proc.sentinel, self._wake], timeout=left)
                self._drain()
                if self.signals:
                    return False
                if mine in woke:
                    try:
                        failure = mine.recv()
                    except EOFError:
                        failure = "it exited"
                    if failure is None:
                        log.info("API worker %d (pid %s) is serving", index, proc.pid)
                        return True
                    raise _StartError(f"API worker {index} could not start: {failure}")
                if proc.sentinel in woke:
                    proc.join()
                    raise _StartError(
                        f"API worker {index} exited with code {proc.exitcode} while starting"
                    )
        finally:
            mine.close()

    def _watch(self, port: int) -> int:
        """Replace workers that die until a signal (0) or a crash loop (1)."""
        while not self.signals:
            sentinels = {p.sentinel: i for i, p in enumerate(self.procs) if p is not None}
            woke = wait([*sentinels, self._wake])
            self._drain()
            if self.signals:
                return 0
            for sentinel in woke:
                if sentinel not in sentinels:
                    continue
                index = sentinels[sentinel]
                proc = self.procs[index]
                assert proc is not None
                proc.join()
                now = time.monotonic()
                self.deaths.append(now)
                while self.deaths and self.deaths[0] < now - 60:
                    self.deaths.popleft()
                if len(self.deaths) > RESTARTS_PER_MINUTE:
                    log.error(
                        "API worker %d (pid %s) exited with code %s: more than %d workers died"
                        " in a minute; stopping every worker",
                        index,
                        proc.pid,
                        proc.exitcode,
                        RESTARTS_PER_MINUTE,
                    )
                    return 1
                log.error(
                    "API worker %d (pid %s) exited with code %s; starting another",
                    index,
                    proc.pid,
                    proc.exitcode,
                )
                self.procs[index] = None
                if not self._start(index, port):
                    return 0
        return 0

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.set_blocking(self._wake, False)
            os.read(self._wake, 512)

    def _stop_all(self) -> bool:
        """SIGTERM every worker, wait for them (SIGKILL after a while); True if all exited 0."""
        live = [p for p in self.procs if p is not None]
        for proc in live:
            if proc.exitcode is None:
                proc.terminate()
        clean = True
        deadline = time.monotonic() + _STOP_TIMEOUT
        for proc in live:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                log.error(
                    "API worker %s did not stop in %.0f s; killing it", proc.pid, _STOP_TIMEOUT
                )
                proc.kill()
                proc.join()
            if proc.exitcode != 0:
                clean = False
        return clean


def _hold_port(host: str) -> socket.socket:
    """A socket bound (not listening) to a free port of ``host`` with SO_REUSEPORT: the
    workers bind the same port beside it, and no other program can take it meanwhile."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1" if host == "localhost" else host, 0))
    return sock

"""Suppression lookups over HTTP driven by wrk (a native load generator), vs ``/healthz``.

The server is started the way a user starts it: ``acctpipe serve --database-url
sqlite:///…`` (its defaults otherwise: webhook worker on, access log on at INFO
to stderr — here a file), over a SQLite store loaded with N suppressions through
``SuppressionStore.apply`` (the feedback loop's path: rows and change log). One
``read`` key is created for the load, with a rate limit out of the way (an
operator gives a backend that looks up every send such a key:
``acctpipe apikey create backend --rate-limit …``).

The load is ``wrk`` (C, one thread, C keep-alive connections; unpacked from
Debian's package on first use, see :mod:`benchmarks._wrk`), so the client costs
a few percent of a core and the figure is the server's. For S seconds it asks
``GET /v1/suppressions/{address}`` with the key, a different address each time,
half suppressed and half not, and checks every answer; then, the same way,
``GET /healthz`` (no key, no store, no handler work): the ceiling, what
uvicorn, Starlette and the middleware cost per request on this machine in this
run. Targets (issue 17): lookups >= 2,000 req/s and p99 < 50 ms at 16
connections.

Both are measured against ``acctpipe serve`` with one worker process and then,
in the same run, with ``--workers 2`` (two processes on the port with
``SO_REUSEPORT``; ``--workers`` picks the counts).

``srv CPU`` is the server's CPU time (all its processes) over the wall time,
``wrk CPU`` the load generator's (100% = one core); ``µs/req`` is the server's
CPU time per request, the figure least skewed by other work on the machine.

    .venv/bin/python -m benchmarks.api_lookup --suppressions 200000 --connections 16
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from acctpipe.api import ApiKeyStore
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from benchmarks._wrk import WrkResult, fixed_script, lookup_script, run_wrk, wrk_command
from benchmarks.api import DOMAINS, address, preload

__all__ = ["main"]

_ROOT: Final = Path(__file__).resolve().parent.parent
_START_TIMEOUT: Final = 60.0
_URL: Final = re.compile(r"at (http://127\.0\.0\.1:\d+)")
RATE_TARGET: Final = 2000.0  # lookups per second (issue 17, target 5)
P99_TARGET_MS: Final = 50.0


def _load(url: str, count: int, batch: int) -> tuple[str, float]:
    """Load ``count`` suppressions (``s<i>.user@…``) and create a read key; return it and
    the seconds the load took."""
    engine = open_database(url)
    try:
        store = SuppressionStore(engine)
        started = time.perf_counter()
        preload(store, count, batch)
        seconds = time.perf_counter() - started
        _, key = ApiKeyStore(engine).create("benchmark", "read", rate_limit=10**9)
    finally:
        engine.dispose()
    return key, seconds


def _server_command(url: str, workers: int) -> list[str]:
    script = Path(sys.executable).with_name("acctpipe")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "acctpipe.cli"]
    return [*command, "serve", "--database-url", url, "--port", "0", "--workers", str(workers)]


@contextlib.contextmanager
def _server(url: str, tmp: Path, workers: int) -> Iterator[tuple[str, int]]:
    """``acctpipe serve`` in the background; yield its base URL and pid."""
    log = (tmp / f"server-{workers}.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        _server_command(url, workers),
        cwd=tmp,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    try:
        base = None
        deadline = time.monotonic() + _START_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while base is None and time.monotonic() < deadline and proc.poll() is None:
                if selector.select(timeout=1.0):
                    line = proc.stdout.readline()
                    if found := _URL.search(line):
                        base = found.group(1)
        if base is None:
            tail = (tmp / f"server-{workers}.log").read_text(encoding="utf-8")[-2000:]
            raise RuntimeError(f"acctpipe serve did not start:\n{tail}")
        yield base, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        proc.stdout.close()
        log.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live children (from /proc; NaN elsewhere)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():  # children of any of its threads
            with contextlib.suppress(OSError):
                pids += [int(c) for c in (task / "children").read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if p == pid:
                return float("nan")
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass(frozen=True)
class Measured:
    """One wrk run and the server's CPU over it."""

    name: str
    result: WrkResult
    server_cpu: float


def _measure(
    name: str, base: str, pid: int, script: Path, opts: argparse.Namespace, headers: tuple[str, ...]
) -> Measured:
    before, started = _cpu_seconds(pid), time.perf_counter()
    result = run_wrk(
        base,
        script,
        connections=opts.connections,
        seconds=opts.seconds,
        threads=opts.threads,
        headers=headers,
    )
    server_cpu = (_cpu_seconds(pid) - before) / (time.perf_counter() - started)
    return Measured(name, result, server_cpu)


def _warm(base: str, key: str, workers: int) -> None:
    """A lookup and /healthz on fresh connections, enough of them that every worker
    process answers some (its first requests build FastAPI's caches: ~300 ms)."""
    for _ in range(16 * workers):
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
            client.get("/healthz").raise_for_status()
            answer = client.get(
                f"/v1/suppressions/{address(0, 's')}", headers={"Authorization": f"Bearer {key}"}
            )
            answer.raise_for_status()
            if answer.json()["suppressed"] is not True:
                raise RuntimeError(f"the loaded address is not suppressed: {answer.text}")


def _print(
    opts: argparse.Namespace, load_s: float, runs: dict[int, list[Measured]], load: float
) -> None:
    print(
        f"server: acctpipe serve (SQLite, {opts.suppressions:,} suppressions loaded in "
        f"{load_s:.1f} s; workers: {', '.join(map(str, runs))}); {os.cpu_count()} CPUs; "
        f"load average before the run {load:.1f}"
    )
    print(
        f"load: wrk, {opts.threads} thread(s), {opts.connections} keep-alive connections, "
        f"{opts.seconds:g} s per endpoint, loopback"
    )
    head = f"{'measure':<46}{'req/s':>9}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
    print(f"{head}{'srv CPU':>8}{'µs/req':>7}{'wrk CPU':>8}{'errors':>7}")
    for workers, rows in runs.items():
        for m in rows:
            r = m.result
            name = f"{m.name} [{workers}w]"
            print(
                f"{name:<46}{r.rate:>9,.0f}{r.p50_ms:>8.2f}{r.p90_ms:>8.2f}{r.p99_ms:>8.2f}"
                f"{r.max_ms:>8.1f}{m.server_cpu:>8.0%}{m.server_cpu / r.rate * 1e6:>7.0f}"
                f"{r.client_cpu:>8.0%}"
                f"{r.wrong_answers(opts.connections):>7}"
            )
    for workers, rows in runs.items():
        lookups, health = rows[0].result, rows[1].result
        print(
            f"{workers} worker(s): lookups {lookups.rate:,.0f} req/s (target >= "
            f"{RATE_TARGET:,.0f}), p99 {lookups.p99_ms:.1f} ms (target < {P99_TARGET_MS:g} ms) "
            f"at {opts.connections} connections; /healthz {health.rate:,.0f} req/s, "
            f"p99 {health.p99_ms:.1f} ms; ratio lookups/healthz {lookups.rate / health.rate:.2f}; "
            f"answers checked: {lookups.said_yes:,} suppressed, {lookups.said_no:,} not "
            f"(asked {lookups.sent_hit:,} / {lookups.sent_miss:,})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the table; exit 1 if any answer was wrong."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.api_lookup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--suppressions", type=int, default=200_000, help="loaded first")
    parser.add_argument("--batch", type=int, default=10_000, help="decisions per load apply")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads")
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--seed", type=int, default=1, help="the addresses asked for")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="measure acctpipe serve --workers N for each N, in this order",
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if min(args.suppressions, args.batch, args.connections, args.threads, *args.workers) < 1:
        parser.error("--suppressions, --batch, --connections, --threads and --workers must be >= 1")
    if args.seconds < 1:
        parser.error("--seconds must be >= 1")
    wrk_command()  # unpack it now, not inside a timed phase
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="acctpipe-bench-api-lookup-") as name:
        tmp = Path(name)
        url = f"sqlite:///{tmp / 'acctpipe.sqlite'}"
        key, load_s = _load(url, args.suppressions, args.batch)
        lookups_lua = lookup_script(
            tmp / "lookup.lua", suppressed=args.suppressions, domains=DOMAINS, seed=args.seed
        )
        health_lua = fixed_script(tmp / "healthz.lua", "/healthz")
        runs: dict[int, list[Measured]] = {}
        for workers in args.workers:
            with _server(url, tmp, workers) as (base, pid):
                _warm(base, key, workers)
                auth = (f"Authorization: Bearer {key}",)
                runs[workers] = [
                    _measure("GET /v1/suppressions/{address}", base, pid, lookups_lua, args, auth),
                    _measure("GET /healthz, no key (ceiling)", base, pid, health_lua, args, ()),
                ]
    _print(args, load_s, runs, load)
    figures = []
    for workers, (lookup, health) in runs.items():
        figures += [
            Figure(
                f"lookups at {args.connections} connections (wrk), {workers} worker(s)",
                lookup.result.rate,
                "req/s",
                f"GET /healthz, {workers} worker(s)",
                health.result.rate,
                Target(">=", RATE_TARGET),
            ),
            Figure(
                f"server CPU per lookup, {workers} worker(s)",
                lookup.server_cpu / lookup.result.rate * 1e6,
                "µs/req",
                f"GET /healthz, {workers} worker(s)",
                health.server_cpu / health.result.rate * 1e6,
            ),
            Figure(
                f"lookup p99 at {args.connections} connections (wrk), {workers} worker(s)",
                lookup.result.p99_ms,
                "ms",
                target=Target("<", P99_TARGET_MS),
            ),
        ]
    write_figures(parser, argv, args.json, figures)
    measured = [m for rows in runs.values() for m in rows]
    return 0 if all(m.result.wrong_answers(args.connections) == 0 for m in measured) else 1


if __name__ == "__main__":
    sys.exit(main())

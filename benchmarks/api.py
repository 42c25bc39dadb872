"""The HTTP API under concurrent clients: the change feed and address lookups, vs ceilings.

Two processes on loopback: the API server (:mod:`benchmarks._api_server`:
``create_app`` under uvicorn, one worker, access log off) and this one, the
load generator (N httpx clients, one keep-alive connection each, one admin key
whose rate limit is out of the way). The store is a SQLite file in a temporary
directory, or a fresh database on the PostgreSQL server ``--database-url`` names
(created here, dropped at the end).

1. **Change feed**: the store is pre-loaded with M changes (one per new
   suppression), then the clients share out the feed's pages
   (``GET /v1/suppressions/changes?cursor=X&limit=L``, each page fetched once)
   and check every page holds the changes it should. The ceiling, measured in
   the same run, is the same pages read in-process with
   ``SuppressionStore.changes_since`` — no HTTP, no JSON.
2. **Lookups**: ``GET /v1/suppressions/{address}`` for random addresses (half
   suppressed, half not, each answer checked) for T seconds. The ceiling is
   ``GET /healthz`` (no key, no store, no handler work) on the same server with
   the same clients: what uvicorn, Starlette and this load generator cost per
   request. ``SuppressionStore.check`` in-process is shown for reference.

``srv CPU`` and ``cli CPU`` are each process's CPU time over the phase's wall
time (100% = one core): a client near 100% means the figure is the load
generator's limit, not the server's.

The server is :class:`mta.mgmt.app.MgmtServer`, as in production (its listening
socket is TCP by protocol, so asyncio sets ``TCP_NODELAY`` on connections; this
benchmark found the ~40 ms Nagle/delayed-ACK stall when it was not).

    .venv/bin/python -m benchmarks.api --clients 16
    .venv/bin/python -m benchmarks.api --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import random
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import Engine, make_url

from acctpipe.api import ApiKeyStore
from acctpipe.policy.types import SuppressionDecision
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore
from benchmarks._report import Figure, Target, add_json_argument, write_figures

_ROOT: Final = Path(__file__).resolve().parent.parent
DOMAINS: Final = ("gmail.com", "yahoo.com", "outlook.com", "example.org", "mail.ru", "web.de")
_LOOPBACK: Final = ("127.0.0.1", "::1", "localhost")
_START_TIMEOUT: Final = 60.0  # seconds for the server process to print its port
# Our targets; the issue names none. A backend resyncing a million suppressions
# from cursor 0 should be done within a minute (>= 20,000 changes/s), and a
# lookup made while mail waits (e.g. a backend checking before it sends) should
# stay well inside any sane HTTP timeout at 16 callers (p99 < 50 ms).
FEED_TARGET: Final = 20_000
LOOKUP_P99_TARGET_MS: Final = 50.0


def address(i: int, prefix: str) -> str:
    """The ``i``-th benchmark address: ``s<i>.user@…`` suppressed, ``c<i>.user@…`` clean."""
    return f"{prefix}{i}.user@{DOMAINS[i % len(DOMAINS)]}"


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all threads) from /proc; NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    """One measured row of the table."""

    name: str
    count: int  # changes or requests
    unit: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    body_bytes: int = 0
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")
    errors: int = 0

    @property
    def rate(self) -> float:
        """Units per second."""
        return self.count / self.seconds if self.seconds else float("nan")


# -- the store -----------------------------------------------------------------------


@contextlib.contextmanager
def _database(admin_url: str | None, tmp: Path) -> Iterator[str]:
    """A SQLite file in ``tmp``, or a fresh database on ``admin_url``'s server (dropped)."""
    if admin_url is None:
        yield f"sqlite:///{tmp / 'store.sqlite'}"
        return
    parsed = make_url(admin_url)
    if parsed.get_backend_name() != "postgresql" or parsed.host not in _LOOPBACK:
        raise SystemExit(f"--database-url: a PostgreSQL server on loopback, not {admin_url!r}")
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"acctpipe_bench_{secrets.token_hex(5)}"
    with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def preload(store: SuppressionStore, changes: int, batch: int) -> None:
    """Apply ``changes`` hard-bounce suppressions (``s<i>.user@…``) in batches of ``batch``."""
    now = datetime.now(UTC)
    for start in range(0, changes, batch):
        store.apply(
            [
                SuppressionDecision(
                    address=address(i, "s"),
                    scope="global",
                    reason="hard-bounce",
                    event_ids=(f"bench-{i:08d}",),
                    decided_at=now,
                    detail="550 5.1.1 <user>: recipient address rejected: user unknown",
                )
                for i in range(start, min(changes, start + batch))
            ]
        )


def _direct_feed(store: SuppressionStore, page: int) -> tuple[Phase, list[tuple[int, int, int]]]:
    """Read the feed in-process; return the phase and its pages (cursor, count, next)."""
    pages: list[tuple[int, int, int]] = []
    latencies: list[float] = []
    cursor, total = 0, 0
    cpu, started = time.process_time(), time.perf_counter()
    while True:
        t = time.perf_counter()
        found = store.changes_since(cursor, page)
        if not found:
            break
        pages.append((cursor, len(found), found[-1].cursor))
        total += len(found)
        cursor = found[-1].cursor
        latencies.append(time.perf_counter() - t)
    seconds = time.perf_counter() - started
    phase = Phase(
        "feed   store.changes_since, in-process (ceiling)", total, "changes/s", seconds, latencies
    )
    phase.client_cpu = (time.process_time() - cpu) / seconds
    return phase, pages


def _direct_lookups(store: SuppressionStore, probes: list[tuple[str, bool]], both: bool) -> Phase:
    name = "check + store.get, in-process" if both else "check, in-process (reference)"
    errors = 0
    latencies = []
    cpu, started = time.process_time(), time.perf_counter()
    for probe, suppressed in probes:
        t = time.perf_counter()
        found = store.check(probe)
        if both:
            store.get(probe)
        latencies.append(time.perf_counter() - t)
        errors += (found is not None) != suppressed
    seconds = time.perf_counter() - started
    phase = Phase(f"lookup store.{name}", len(probes), "req/s", seconds, latencies)
    phase.client_cpu = (time.process_time() - cpu) / seconds
    phase.errors = errors
    return phase


def _probes(rng: random.Random, suppressed: int, n: int) -> list[tuple[str, bool]]:
    """``n`` (address, is it suppressed) pairs, half of them suppressed."""
    return [
        (address(rng.randrange(suppressed), "s"), True)
        if k % 2 == 0
        else (address(rng.randrange(10**9), "c"), False)
        for k in range(n)
    ]


# -- the server process ----------------------------------------------------------------


def start_server(url: str, tmp: Path, profile: Path | None) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "benchmarks._api_server", "--stdin-eof", "--database-url", url]
    if profile is not None:
        command += ["--profile", str(profile)]
    with (tmp / "server.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            command, cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=_START_TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    if not line.strip().isdigit():
        stop_server(proc)
        log_text = (tmp / "server.log").read_text(encoding="utf-8")[-2000:]
        raise RuntimeError(f"the API server did not start:\n{log_text}")
    return proc, int(line)


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


# -- the load generator ----------------------------------------------------------------

Worker = Callable[[httpx.AsyncClient, Phase], Awaitable[None]]


async def _run_clients(
    name: str, unit: str, base: str, key: str | None, clients: int, pid: int, work: Worker
) -> Phase:
    """Run ``work`` on ``clients`` clients at once (one connection each); time the lot."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    phase = Phase(name, 0, unit, 0.0)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base, headers=headers, limits=limits, timeout=60, trust_env=False
                )
            )
            for _ in range(clients)
        ]
        for client in pool:  # open the connections (and warm the key cache) before timing
            (await client.get("/healthz")).raise_for_status()
        server_cpu, cpu, started = _cpu_seconds(pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(work(client, phase) for client in pool))
        phase.seconds = time.perf_counter() - started
        phase.client_cpu = (time.process_time() - cpu) / phase.seconds
        phase.server_cpu = (_cpu_seconds(pid) - server_cpu) / phase.seconds
    return phase


def _feed_worker(pages: list[tuple[int, int, int]], limit: int) -> Worker:
    todo = iter(pages)  # shared: each page is fetched by exactly one client

    async def work(client: httpx.AsyncClient, phase: Phase) -> None:
        for cursor, count, last in todo:
            t = time.perf_counter()
            response = await client.get(
                "/v1/suppressions/changes", params={"cursor": cursor, "limit": limit}
            )
            phase.latencies.append(time.perf_counter() - t)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            phase.body_bytes += len(response.content)
            got = len(body["changes"])
            phase.count += got
            if got != count or body["next_cursor"] != last:
                phase.errors += 1

    return work


def _timed_worker(
    seconds: float, requests: int, next_request: Callable[[], tuple[str, bool | None]]
) -> Worker:
    deadline: list[float] = []  # set by the first client to start, after the warm-up

    async def work(client: httpx.AsyncClient, phase: Phase) -> None:
        if not deadline:
            deadline.append(time.perf_counter() + seconds)
        while time.perf_counter() < deadline[0] and (requests <= 0 or phase.count < requests):
            path, suppressed = next_request()
            phase.count += 1
            t = time.perf_counter()
            response = await client.get(path)
            phase.latencies.append(time.perf_counter() - t)
            phase.body_bytes += len(response.content)
            if response.status_code != 200:
                phase.errors += 1
                continue
            phase.errors += suppressed is not None and response.json()["suppressed"] != suppressed

    return work


@dataclass(frozen=True)
class Options:
    """What one run measures (the command line, parsed)."""

    changes: int
    page: int
    batch: int
    clients: int
    seconds: float
    requests: int
    direct_lookups: int
    seed: int
    profile: bool


async def _over_http(
    opts: Options, port: int, pid: int, key: str, pages: list[tuple[int, int, int]]
) -> list[Phase]:
    base = f"http://127.0.0.1:{port}"
    n = opts.clients
    feed = await _run_clients(
        "feed   GET /v1/suppressions/changes", "changes/s", base, key, n, pid,
        _feed_worker(pages, opts.page),
    )  # fmt: skip
    rng = random.Random(opts.seed)

    def lookup_request() -> tuple[str, bool | None]:
        if rng.random() < 0.5:
            return f"/v1/suppressions/{quote(address(rng.randrange(opts.changes), 's'))}", True
        return f"/v1/suppressions/{quote(address(rng.randrange(10**9), 'c'))}", False

    lookups = await _run_clients(
        "lookup GET /v1/suppressions/{address}", "req/s", base, key, n, pid,
        _timed_worker(opts.seconds, opts.requests, lookup_request),
    )  # fmt: skip
    health = await _run_clients(
        "lookup GET /healthz, no key (ceiling)", "req/s", base, None, n, pid,
        _timed_worker(opts.seconds, opts.requests, lambda: ("/healthz", None)),
    )  # fmt: skip
    return [feed, lookups, health]


def run(opts: Options, url: str, tmp: Path) -> tuple[list[Phase], float]:
    """Load the store, measure in-process and over HTTP; return the phases and load time."""
    engine: Engine = open_database(url)
    try:
        store = SuppressionStore(engine)
        started = time.perf_counter()
        preload(store, opts.changes, opts.batch)
        load_s = time.perf_counter() - started
        _, key = ApiKeyStore(engine).create("benchmark", "admin", rate_limit=10**9)
        direct_feed, pages = _direct_feed(store, opts.page)
        probes = _probes(random.Random(opts.seed), opts.changes, opts.direct_lookups)
        check = _direct_lookups(store, probes, both=False)
        check_get = _direct_lookups(store, probes, both=True)
    finally:
        engine.dispose()
    profile = tmp / "server.pstats" if opts.profile else None
    proc, port = start_server(url, tmp, profile)
    try:
        http = asyncio.run(_over_http(opts, port, proc.pid, key, pages))
    finally:
        stop_server(proc)
    if profile is not None and profile.exists():
        print("server profile (all threads), top 30 by own time:")
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(30)
    feed, lookups, health = http
    return [direct_feed, feed, check, check_get, lookups, health], load_s


def _print(opts: Options, phases: list[Phase], load_s: float, backend: str, load: float) -> None:
    direct_feed, feed, check, _, lookups, health = phases
    print(f"API server: MgmtServer/uvicorn, 1 worker, separate process; {backend} store")
    print(
        f"load: {opts.clients} httpx clients in this process, keep-alive, loopback; "
        f"{os.cpu_count()} CPUs; load average before the run {load:.1f} (other work skews all)"
    )
    print(
        f"{opts.changes:,} changes pre-loaded in {load_s:.1f} s; feed pages of {opts.page:,}; "
        f"lookups for {opts.seconds:g} s per endpoint"
    )
    head = f"{'measure':<52}{'rate':>10} {'unit':<10}{'p50 ms':>8}{'p99 ms':>8}{'MB/s':>7}"
    print(f"{head}{'srv CPU':>8}{'cli CPU':>8}{'errors':>7}")
    for p in phases:
        mb = f"{p.body_bytes / 1e6 / p.seconds:.1f}" if p.body_bytes else ""
        srv = f"{p.server_cpu:.0%}" if p.server_cpu == p.server_cpu else ""
        p50, p99 = (_percentile(p.latencies, q) * 1000 for q in (0.5, 0.99))
        print(
            f"{p.name:<52}{p.rate:>10,.0f} {p.unit:<10}{p50:>8.2f}{p99:>8.2f}"
            f"{mb:>7}{srv:>8}{p.client_cpu:>8.0%}{p.errors:>7}"
        )
    print(
        f"feed: {feed.rate:,.0f} changes/s served over HTTP (target >= {FEED_TARGET:,}); "
        f"ratio API/in-process: {feed.rate / direct_feed.rate:.2f}"
    )
    p99 = _percentile(lookups.latencies, 0.99) * 1000
    print(
        f"lookup: p99 {p99:.1f} ms at {opts.clients} clients "
        f"(target < {LOOKUP_P99_TARGET_MS:g} ms); ratio lookup/healthz req/s: "
        f"{lookups.rate / health.rate:.2f}; in-process check: {check.rate:,.0f}/s"
    )


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does (server stopped, files removed)


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the table; exit 1 if any answer was wrong."""
    signal.signal(signal.SIGTERM, _terminated)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--changes", type=int, default=200_000, help="changes pre-loaded")
    parser.add_argument("--page", type=int, default=1000, help="changes per feed page (limit)")
    parser.add_argument("--batch", type=int, default=5000, help="decisions per pre-load apply")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="per lookup phase")
    parser.add_argument("--requests", type=int, default=0, help="per lookup phase (0: no cap)")
    parser.add_argument(
        "--direct-lookups", type=int, default=5000, help="in-process store.check calls"
    )
    parser.add_argument("--seed", type=int, default=1, help="random addresses")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on loopback, e.g. postgresql://postgres@127.0.0.1:5432/postgres"
        " (a database is created there and dropped); default: SQLite in a temp dir",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the server (slows it; figures skewed)"
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if min(args.changes, args.page, args.batch, args.clients, args.direct_lookups) < 1:
        parser.error("--changes, --page, --batch, --clients and --direct-lookups must be >= 1")
    if args.page > 10_000:
        parser.error("--page: the API serves at most 10,000 changes per page")
    opts = Options(
        changes=args.changes,
        page=args.page,
        batch=args.batch,
        clients=args.clients,
        seconds=args.seconds,
        requests=args.requests,
        direct_lookups=args.direct_lookups,
        seed=args.seed,
        profile=args.profile,
    )
    backend = "PostgreSQL" if args.database_url else "SQLite"
    load = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="acctpipe-bench-api-") as tmp,
        _database(args.database_url, Path(tmp)) as url,
    ):
        phases, load_s = run(opts, url, Path(tmp))
    _print(opts, phases, load_s, backend, load)
    direct_feed, feed, _, _, lookups, health = phases
    p99_ms = _percentile(lookups.latencies, 0.99) * 1000
    write_figures(
        parser,
        argv,
        args.json,
        [
            Figure(
                "change feed over HTTP",
                feed.rate,
                "changes/s",
                "changes_since in-process",
                direct_feed.rate,
                Target(">=", FEED_TARGET),
            ),
            Figure("lookups over HTTP", lookups.rate, "req/s", "GET /healthz", health.rate),
            Figure(
                f"lookup p99 at {opts.clients} clients",
                p99_ms,
                "ms",
                target=Target("<", LOOKUP_P99_TARGET_MS),
            ),
        ],
    )
    return 0 if all(p.errors == 0 for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())

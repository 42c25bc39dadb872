"""The HTTP side of :mod:`benchmarks.suppression_scale`: bulk import, export, feed, lookups.

Everything talks to ``acctpipe serve`` (started by :func:`serve`) over
loopback with one API key, as a client of the documented API would: the bulk
import streams the file as the request body (chunked), the export and the
change feed are read to their end, and :class:`LookupLoad` asks
``GET /v1/suppressions/{address}`` at a fixed rate from a thread of its own
while something else runs, each latency taken from the moment the request was
*due* (a stalled server is not excused by the client waiting for it: no
coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx

from acctpipe.api import ApiKeyStore
from acctpipe.sqlstore import open_database
from benchmarks._scale_proc import acctpipe

__all__ = [
    "LookupLoad",
    "LookupResult",
    "bulk_import",
    "create_key",
    "export_api",
    "feed_http",
    "serve",
]

_CHUNK: Final = 1 << 20
_SERVING: Final = re.compile(r"at (http://127\.0\.0\.1:\d+)")
_START_TIMEOUT: Final = 60.0


@contextlib.contextmanager
def serve(url: str, log: Path) -> Iterator[str]:
    """``acctpipe serve --database-url URL --port 0`` in the background (its defaults
    otherwise; stderr to ``log``); yield its base URL, SIGTERM it afterwards."""
    argv = acctpipe("serve", "--database-url", url, "--port", "0")
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True
        )
    assert proc.stdout is not None
    # A server that neither listens nor exits is killed: its stdout then ends.
    watchdog = threading.Timer(_START_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        base = None
        # It prints "serving … at http://127.0.0.1:PORT" once it listens.
        while base is None and (line := proc.stdout.readline()):
            if found := _SERVING.search(line):
                base = found.group(1)
        watchdog.cancel()
        if base is None:
            tail = log.read_text(encoding="utf-8")[-2000:]
            raise RuntimeError(f"acctpipe serve did not start:\n{tail}")
        yield base
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        proc.stdout.close()


def create_key(url: str) -> str:
    """A write key (it reads too) with the rate limit out of the way; the plaintext."""
    engine = open_database(url)
    try:
        _, key = ApiKeyStore(engine).create("scale-benchmark", "write", rate_limit=10**9)
    finally:
        engine.dispose()
    return key


def _client(base: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(None),
        trust_env=False,
    )


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            yield block


def bulk_import(base: str, key: str, path: Path) -> tuple[float, dict[str, Any]]:
    """``POST /v1/suppressions/bulk`` with ``path`` streamed as a text/csv body: seconds, result."""
    with _client(base, key) as client:
        started = time.perf_counter()
        answer = client.post(
            "/v1/suppressions/bulk",
            params={"op": "add"},
            content=_chunks(path),
            headers={"Content-Type": "text/csv"},
        )
        seconds = time.perf_counter() - started
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return seconds, result


def export_api(base: str, key: str) -> tuple[int, float]:
    """``GET /v1/suppressions/export.csv`` read to its end: data rows, seconds."""
    lines = 0
    with _client(base, key) as client:
        started = time.perf_counter()
        with client.stream("GET", "/v1/suppressions/export.csv") as answer:
            answer.raise_for_status()
            for block in answer.iter_bytes():
                lines += block.count(b"\n")
        seconds = time.perf_counter() - started
    return lines - 1, seconds  # the header line


def feed_http(base: str, key: str, limit: int = 10_000) -> tuple[int, float]:
    """``GET /v1/suppressions/changes`` from cursor 0 page by page to the end: changes, seconds."""
    changes, cursor = 0, 0
    with _client(base, key) as client:
        started = time.perf_counter()
        while True:
            answer = client.get(
                "/v1/suppressions/changes", params={"cursor": cursor, "limit": limit}
            )
            answer.raise_for_status()
            page = answer.json()
            changes += len(page["changes"])
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        seconds = time.perf_counter() - started
    return changes, seconds


@dataclass
class LookupResult:
    """What a :class:`LookupLoad` saw: latencies (ms, from when each request was due; a
    timed-out request counts with the time it waited)."""

    latencies_ms: list[float] = field(default_factory=list)
    timeouts: int = 0  # no answer within the client's timeout (counted as that latency)
    errors: int = 0  # failed requests or answers other than 200
    wrong: int = 0  # a suppressed address said not suppressed, or the reverse
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in ms (NaN without requests)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds else float("nan")


class LookupLoad:
    """Lookups at ``rate`` per second over ``connections`` keep-alive connections, in a thread.

    Half the addresses asked for are ``hits`` (suppressed: each must say so), half
    ``misses`` (never suppressed). ``with LookupLoad(...) as load:`` runs it for the
    block; ``load.result`` holds what it saw.
    """

    def __init__(
        self,
        base: str,
        key: str,
        hits: list[str],
        misses: list[str],
        *,
        rate: float = 50.0,
        connections: int = 8,
    ) -> None:
        self.base, self.key = base, key
        self.hits, self.misses = hits, misses
        self.rate, self.connections = rate, connections
        self.result = LookupResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lookup-load", daemon=True)

    def __enter__(self) -> LookupLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.connections)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(
            base_url=self.base, headers=headers, limits=limits, timeout=30.0, trust_env=False
        ) as client:
            started = time.perf_counter()
            pending: set[asyncio.Task[None]] = set()
            n = 0
            while not self._stop.is_set():
                due = started + n / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                hit = n % 2 == 0
                pool = self.hits if hit else self.misses
                task = asyncio.create_task(self._one(client, pool[n // 2 % len(pool)], hit, due))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
            if pending:
                await asyncio.wait(pending)
            self.result.seconds = time.perf_counter() - started

    async def _one(self, client: httpx.AsyncClient, address: str, hit: bool, due: float) -> None:
        try:
            answer = await client.get(f"/v1/suppressions/{quote(address, safe='')}")
        except httpx.TimeoutException:
            # A stalled server: a latency of at least this long, not a wrong answer.
            self.result.timeouts += 1
            self.result.latencies_ms.append((time.perf_counter() - due) * 1000)
            return
        except httpx.HTTPError:
            self.result.errors += 1
            return
        self.result.latencies_ms.append((time.perf_counter() - due) * 1000)
        if answer.status_code != 200:
            self.result.errors += 1
        elif answer.json().get("suppressed") is not hit:
            self.result.wrong += 1

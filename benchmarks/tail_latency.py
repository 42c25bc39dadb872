"""Tail latency: time from a row being appended to it being committed (queryable in DuckDB).

A writer thread appends synthetic records at ``--rate`` rows/s (a burst every
10 ms; the bytes are encoded before the clock starts, so the writer costs the
tailer no CPU) for ``--seconds``; a :class:`~acctpipe.ingest.Tailer` follows
the directory in the same process, as ``acctpipe tail`` runs it. A reader on
its own cursor counts the ``events`` rows every few milliseconds, so a row's
latency is when a query first sees it minus its append time (a commit that
then checkpoints has made its rows queryable before it returns; the commit's
own return is noted too). Prints p50/p99/max against the issue's 250 ms target.

    .venv/bin/python -m benchmarks.tail_latency --rate 20000 --seconds 10
"""

from __future__ import annotations

import argparse
import bisect
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acctpipe.eventstore import FileState, Store
from acctpipe.ingest import Loader, Tailer
from acctpipe.ingest.tailer import DEFAULT_WAL_CAP
from acctpipe.synth import synthetic_records
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.acct import DEFAULT_HEADER, AccountingEncoder

_TARGET_MS = 250.0
_BURSTS_PER_SECOND = 100


_POLL = 0.005  # seconds between the reader's counts


def _count_rows(store: Store, stop: threading.Event, seen: list[tuple[float, int]]) -> None:
    """Note (time, rows queryable) until ``stop``, on a cursor of the store's own database."""
    cursor = store.conn.cursor()
    try:
        while not stop.is_set():
            row = cursor.execute("SELECT count(*) FROM events").fetchone()
            seen.append((time.perf_counter(), int(row[0]) if row else 0))
            time.sleep(_POLL)
    finally:
        cursor.close()


def _latencies(
    appended: list[float], per_burst: int, total: int, seen: list[tuple[float, int]]
) -> list[float]:
    """Each burst's latency: the first time ``seen`` holds its rows minus its append time."""
    counts = [n for _, n in seen]
    out: list[float] = []
    for i, when in enumerate(appended):
        upto = min(total, (i + 1) * per_burst)  # the rows appended up to this burst
        k = bisect.bisect_left(counts, upto)
        if k < len(seen):
            out.append(seen[k][0] - when)
    return sorted(out)


class _TimedStore(Store):
    """A store that notes (time, rows committed so far) after every transaction."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.conn, store.path)
        self.commits: list[tuple[float, int]] = []

    def commit_batch(self, state: FileState, **batch: Any) -> None:
        super().commit_batch(state, **batch)
        events, rejects = batch.get("events"), batch.get("rejects")
        rows = (events.height if events is not None else 0) + (
            rejects.height if rejects is not None else 0
        )
        total = self.commits[-1][1] + rows if self.commits else rows
        self.commits.append((time.perf_counter(), total))


def _encoded(rate: int, seconds: float) -> list[bytes]:
    encoder = AccountingEncoder(DEFAULT_HEADER)
    burst = max(1, rate // _BURSTS_PER_SECOND)
    records = synthetic_records(int(rate * seconds))
    lines = [encoder.encode(r) for r in records]
    return [b"".join(lines[i : i + burst]) for i in range(0, len(lines), burst)]


def _writer(path: Path, bursts: list[bytes], appended: list[float]) -> None:
    """Append one burst every 10 ms (on schedule, not after the last one); note each time."""
    with path.open("ab", buffering=0) as stream:
        stream.write(AccountingEncoder(DEFAULT_HEADER).header())
        start = time.perf_counter()
        for i, burst in enumerate(bursts):
            if (wait := start + i / _BURSTS_PER_SECOND - time.perf_counter()) > 0:
                time.sleep(wait)
            stream.write(burst)
            appended.append(time.perf_counter())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the writer and the tailer together, print latency percentiles."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tail_latency", description=__doc__)
    parser.add_argument("--rate", type=int, default=20_000, help="rows appended per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the writer runs")
    parser.add_argument(
        "--wal-cap-mb",
        type=int,
        default=DEFAULT_WAL_CAP >> 20,
        help="WAL size at which a commit checkpoints (0: DuckDB's, inside the commit that"
        " crosses 64 MB, as before idle checkpoints)",
    )
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds the tailer waits after a wake-up"
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)

    bursts = _encoded(args.rate, args.seconds)
    rows_per_burst = max(1, args.rate // _BURSTS_PER_SECOND)
    total = int(args.rate * args.seconds)
    with tempfile.TemporaryDirectory(prefix="acctpipe-latency-") as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        store = _TimedStore(Store.open(Path(tmp) / "db.duckdb"))
        loader = Loader(store)
        tailer = Tailer(loader, [logs], settle=args.settle, wal_cap=(args.wal_cap_mb << 20) or None)
        follower = threading.Thread(target=tailer.run)
        follower.start()
        done = threading.Event()
        seen: list[tuple[float, int]] = []
        reader = threading.Thread(target=_count_rows, args=(store, done, seen))
        reader.start()
        appended: list[float] = []
        _writer(logs / "acct.csv", bursts, appended)
        deadline = time.perf_counter() + 30
        while loader.stats.rows < total and time.perf_counter() < deadline:
            time.sleep(0.05)
        time.sleep(2 * _POLL)
        done.set()
        reader.join()
        tailer.stop()
        follower.join()
        wal_mb = store.wal_bytes() / 1e6
        store.close()

    latencies = _latencies(appended, rows_per_burst, total, seen)
    returned = _latencies(appended, rows_per_burst, total, store.commits)
    if not latencies:
        print("no rows committed", file=sys.stderr)
        return 1

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    print(
        f"appended {total} rows at {args.rate} rows/s for {args.seconds:g}s; "
        f"committed {loader.stats.rows} in {len(store.commits)} transactions;"
        f" WAL at the end {wal_mb:.0f} MB"
    )
    if returned:
        print(
            f"latency append → commit returned: p50 {returned[len(returned) // 2] * 1000:.0f} ms,"
            f" p99 {returned[min(len(returned) - 1, int(0.99 * len(returned)))] * 1000:.0f} ms"
        )
    print(
        f"latency append → queryable: p50 {pct(0.5) * 1000:.0f} ms, "
        f"p99 {pct(0.99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
        f"(target p99 < {_TARGET_MS:.0f})"
    )
    at = f"at {args.rate:,} rows/s"
    figures = [
        Figure(f"append → queryable p50, {at}", pct(0.5) * 1000, "ms"),
        Figure(
            f"append → queryable p99, {at}",
            pct(0.99) * 1000,
            "ms",
            target=Target("<", _TARGET_MS),
        ),
    ]
    write_figures(parser, argv, args.json, figures)
    return 0 if loader.stats.rows == total else 1


if __name__ == "__main__":
    sys.exit(main())

"""Tail latency: time from a row being appended to it being committed (queryable in DuckDB).

A writer thread appends synthetic records at ``--rate`` rows/s (a burst every
10 ms; the bytes are encoded before the clock starts, so the writer costs the
tailer no CPU) for ``--seconds``; a :class:`~acctpipe.ingest.Tailer` follows
the directory in the same process, as ``acctpipe tail`` runs it. Each
transaction's commit is timestamped as it returns (from then on a query sees
its rows), so a row's latency is the end of the first commit that holds it
minus its append time. Prints p50/p99/max against the issue's 250 ms target.

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
from acctpipe.synth import synthetic_records
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.acct import DEFAULT_HEADER, AccountingEncoder

_TARGET_MS = 250.0
_BURSTS_PER_SECOND = 100


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
        tailer = Tailer(loader, [logs])
        follower = threading.Thread(target=tailer.run)
        follower.start()
        appended: list[float] = []
        _writer(logs / "acct.csv", bursts, appended)
        deadline = time.perf_counter() + 30
        while loader.stats.rows < total and time.perf_counter() < deadline:
            time.sleep(0.05)
        tailer.stop()
        follower.join()
        store.close()
        committed = store.commits

    counts = [n for _, n in committed]
    latencies: list[float] = []
    for i, when in enumerate(appended):
        upto = min(total, (i + 1) * rows_per_burst)  # the rows appended up to this burst
        i = bisect.bisect_left(counts, upto)
        if i < len(committed):
            latencies.append(committed[i][0] - when)
    latencies.sort()
    if not latencies:
        print("no rows committed", file=sys.stderr)
        return 1

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    print(
        f"appended {total} rows at {args.rate} rows/s for {args.seconds:g}s; "
        f"committed {loader.stats.rows} in {len(committed)} transactions"
    )
    print(
        f"latency append → committed: p50 {pct(0.5) * 1000:.0f} ms, "
        f"p99 {pct(0.99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
        f"(target p99 < {_TARGET_MS:.0f})"
    )
    at = f"at {args.rate:,} rows/s"
    figures = [
        Figure(f"append → committed p50, {at}", pct(0.5) * 1000, "ms"),
        Figure(
            f"append → committed p99, {at}",
            pct(0.99) * 1000,
            "ms",
            target=Target("<", _TARGET_MS),
        ),
    ]
    write_figures(parser, argv, args.json, figures)
    return 0 if loader.stats.rows == total else 1


if __name__ == "__main__":
    sys.exit(main())

"""Tail latency: time from a row being appended to it being committed (queryable).

A writer thread appends synthetic records at ``--rate`` rows/s (in 10 ms
bursts) for ``--seconds``; a :class:`~acctpipe.ingest.Tailer` follows the
directory in the same process. After every pass the tailer's committed row
count is recorded with a timestamp, so each row's latency is the end of the
first pass that committed it minus its append time. Prints p50/p99/max.

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

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader, Tailer
from acctpipe.synth import synthetic_records
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.acct import DEFAULT_HEADER, AccountingEncoder


def _writer(path: Path, rate: int, seconds: float, appended: list[tuple[float, int]]) -> None:
    encoder = AccountingEncoder(DEFAULT_HEADER)
    records = synthetic_records(int(rate * seconds) + rate)
    burst = max(1, rate // 100)
    total, start = 0, time.perf_counter()
    with path.open("ab", buffering=0) as stream:
        stream.write(encoder.header())
        while (now := time.perf_counter()) - start < seconds:
            due = int((now - start) * rate)
            if due > total:
                n = min(due - total, burst * 5)
                stream.write(b"".join(encoder.encode(next(records)) for _ in range(n)))
                total += n
                appended.append((time.perf_counter(), total))
            time.sleep(0.01)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the writer and the tailer together, print latency percentiles."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tail_latency", description=__doc__)
    parser.add_argument("--rate", type=int, default=20_000, help="rows appended per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the writer runs")
    add_json_argument(parser)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="acctpipe-latency-") as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        store = Store.open(Path(tmp) / "db.duckdb")
        loader = Loader(store)
        committed: list[tuple[float, int]] = []
        tailer = Tailer(
            loader,
            [logs],
            rescan=0.5,
            on_pass=lambda: committed.append((time.perf_counter(), loader.stats.rows)),
        )
        follower = threading.Thread(target=tailer.run)
        follower.start()
        appended: list[tuple[float, int]] = []
        _writer(logs / "acct.csv", args.rate, args.seconds, appended)
        total = appended[-1][1] if appended else 0
        deadline = time.perf_counter() + 30
        while loader.stats.rows < total and time.perf_counter() < deadline:
            time.sleep(0.05)
        tailer.stop()
        follower.join()
        store.close()

    counts = [n for _, n in committed]
    latencies: list[float] = []
    for when, upto in appended:
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
        f"appended {total} rows at {args.rate} rows/s for {args.seconds:.0f}s; "
        f"committed {loader.stats.rows}"
    )
    print(
        f"latency append → committed: p50 {pct(0.5) * 1000:.0f} ms, "
        f"p99 {pct(0.99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms (target p99 < 1000)"
    )
    at = f"at {args.rate:,} rows/s"
    figures = [
        Figure(f"append → committed p50, {at}", pct(0.5) * 1000, "ms"),
        Figure(f"append → committed p99, {at}", pct(0.99) * 1000, "ms", target=Target("<", 1000)),
    ]
    write_figures(parser, argv, args.json, figures)
    return 0 if loader.stats.rows == total else 1


if __name__ == "__main__":
    sys.exit(main())

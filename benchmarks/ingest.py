"""End-to-end ingest throughput: `acctpipe ingest` vs DuckDB's own read_csv on the same file.

DuckDB's multi-threaded native ``read_csv`` into a table (all columns as text,
no offsets, no classification, no quarantine) is the ceiling; ``acctpipe
ingest`` runs as a user runs it (a fresh process, a fresh database), including
typing, timestamp parsing, classification and per-batch transactions with the
file offset. The ratio (ours / DuckDB's, in seconds) is the figure to watch.

    .venv/bin/python -m benchmarks.ingest --rows 1000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from acctpipe.synth import write_synthetic_accounting
from benchmarks._report import Figure, Target, add_json_argument, write_figures


def _ours(path: Path, db: Path) -> tuple[float, int]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "acctpipe.cli", "ingest", "--db", str(db), str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return seconds, int(row[0]) if row else 0


def _duckdb(path: Path, db: Path) -> tuple[float, int]:
    start = time.perf_counter()
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "CREATE TABLE raw AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
        row = conn.execute("SELECT count(*) FROM raw").fetchone()
    return time.perf_counter() - start, int(row[0]) if row else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the file, run both loaders once each on fresh databases, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="records to generate")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed")
    add_json_argument(parser)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="acctpipe-bench-") as tmp:
        path = Path(tmp) / "acct.csv"
        write_synthetic_accounting(path, args.rows, args.seed)
        size_mb = path.stat().st_size / 1e6
        duck_s, duck_rows = _duckdb(path, Path(tmp) / "duck.duckdb")
        ours_s, ours_rows = _ours(path, Path(tmp) / "ours.duckdb")

    print(f"accounting file: {args.rows} records, {size_mb:.1f} MB")
    print(f"{'loader':<34}{'rows':>10}{'seconds':>10}{'rows/s':>14}")
    for name, seconds, rows in (
        ("acctpipe ingest (end to end)", ours_s, ours_rows),
        ("duckdb read_csv into a table", duck_s, duck_rows),
    ):
        print(f"{name:<34}{rows:>10}{seconds:>10.3f}{rows / seconds:>14,.0f}")
    print(f"ratio ours/duckdb (seconds, target <= 2.0): {ours_s / duck_s:.2f}")
    figure = Figure(
        "acctpipe ingest, end to end",
        ours_rows / ours_s,
        "rows/s",
        "duckdb read_csv",
        duck_rows / duck_s,
        Target(">=", 0.5, of="ratio", note="time ≤ twice DuckDB's"),
    )
    write_figures(parser, argv, args.json, [figure])
    if ours_rows != duck_rows:
        print(f"row counts differ: ours {ours_rows}, duckdb {duck_rows}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

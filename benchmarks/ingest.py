"""End-to-end ingest: `acctpipe ingest` vs DuckDB's own read_csv, both as fresh processes.

Each side runs as its own child process on a fresh database, on the same file,
with the same thread settings (DuckDB's and polars' defaults: one thread per
core), and is timed from spawn to exit; its CPU time and peak RSS come from
``wait4``'s resource usage of that child alone. The peer is DuckDB's
multi-threaded ``read_csv`` into a table (all columns as text; no offsets,
classification or quarantine), closing the database as ours does. Ours is the
command line a user runs: identification, polars parsing, typing, timestamps,
classification, and per-batch transactions holding the rows and the file
offset. The two alternate, ``--repeat`` pairs; the pair with the median ratio
is the headline, and every pair is printed.

    .venv/bin/python -m benchmarks.ingest --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from acctpipe.synth import write_synthetic_accounting
from benchmarks._report import Figure, Target, add_json_argument, write_figures

_TARGET_RATIO = 1.5  # ours may take at most this many times DuckDB's seconds
_RSS_LIMIT_MB = 1024.0

_DUCKDB = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute(
    "CREATE TABLE raw AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
    [sys.argv[2]],
)
conn.close()
"""


@dataclass(frozen=True, slots=True)
class Run:
    """One child process: wall seconds, CPU seconds (user + system), peak RSS in MB."""

    seconds: float
    cpu: float
    rss_mb: float


def _child(argv: list[str]) -> Run:
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, argv)
    # ru_maxrss is in KiB on Linux.
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _count(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - constant
    return int(row[0]) if row else 0


def _ours(path: Path, db: Path) -> tuple[Run, int]:
    run = _child([sys.executable, "-m", "acctpipe.cli", "ingest", "--db", str(db), str(path)])
    return run, _count(db, "events")


def _duckdb(path: Path, db: Path) -> tuple[Run, int]:
    run = _child([sys.executable, "-c", _DUCKDB, str(db), str(path)])
    return run, _count(db, "raw")


def _remove(db: Path) -> None:
    for leftover in (db, db.with_name(db.name + ".wal")):
        leftover.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the file, run both loaders ``--repeat`` times alternating, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="records to generate")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs; the median is kept")
    parser.add_argument(
        "--file", type=Path, help="ingest this accounting file instead of generating one"
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)

    pairs: list[tuple[Run, Run]] = []
    with tempfile.TemporaryDirectory(prefix="acctpipe-bench-") as tmp:
        path = args.file or Path(tmp) / "acct.csv"
        if args.file is None:
            write_synthetic_accounting(path, args.rows, args.seed)
        size_mb = path.stat().st_size / 1e6
        print(f"accounting file: {path.name}, {size_mb:.1f} MB; cores: {os.cpu_count()}")
        print(f"{'pair':<6}{'loader':<30}{'rows':>10}{'seconds':>9}{'cpu s':>8}{'RSS MB':>8}")
        counts: set[int] = set()
        for i in range(args.repeat):
            sides = []
            for name, run_side in (("duckdb read_csv", _duckdb), ("acctpipe ingest", _ours)):
                db = Path(tmp) / f"{name.split()[0]}.duckdb"
                _remove(db)
                run, rows = run_side(path, db)
                _remove(db)
                counts.add(rows)
                sides.append(run)
                print(
                    f"{i + 1:<6}{name:<30}{rows:>10}{run.seconds:>9.2f}{run.cpu:>8.1f}"
                    f"{run.rss_mb:>8.0f}"
                )
            pairs.append((sides[0], sides[1]))
    rows = max(counts)
    ratios = [ours.seconds / duck.seconds for duck, ours in pairs]
    print("ratio ours/duckdb (seconds): " + ", ".join(f"{r:.2f}" for r in ratios), end="")
    print(f"; median {statistics.median(ratios):.2f} (target <= {_TARGET_RATIO})")
    cpu = [ours.cpu / duck.cpu for duck, ours in pairs]
    print("ratio ours/duckdb (CPU seconds): " + ", ".join(f"{r:.2f}" for r in cpu))
    duck, ours = sorted(pairs, key=lambda p: p[1].seconds / p[0].seconds)[len(pairs) // 2]
    peak = max(o.rss_mb for _, o in pairs)
    print(f"peak RSS of acctpipe ingest: {peak:.0f} MB (target <= {_RSS_LIMIT_MB:.0f})")
    figures = [
        Figure(
            "acctpipe ingest, end to end (median of pairs)",
            rows / ours.seconds,
            "rows/s",
            "duckdb read_csv into a table",
            rows / duck.seconds,
            Target(">=", 1 / _TARGET_RATIO, of="ratio", note="time ≤ 1.5 x DuckDB's"),
        ),
        Figure(
            "acctpipe ingest, peak RSS",
            peak,
            "MB",
            "duckdb read_csv peak RSS",
            max(d.rss_mb for d, _ in pairs),
            Target("<=", _RSS_LIMIT_MB),
        ),
    ]
    write_figures(parser, argv, args.json, figures)
    if len(counts) != 1:
        print(f"row counts differ between runs: {sorted(counts)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accounting-file read throughput: our streaming decoder vs polars on the same file.

polars' multi-threaded native CSV reader is the ceiling; our decoder is pure
Python over the stdlib csv module and also tracks exact byte offsets, headers
and malformed rows, so it is expected to be slower. The ratio is the figure to
watch across changes.

    .venv/bin/python -m benchmarks.codec --rows 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from acctpipe.synth import write_synthetic_accounting
from benchmarks._report import Figure, add_json_argument, write_figures
from mta.acct import Row, read_accounting


def _ours(path: Path) -> int:
    return sum(1 for event in read_accounting(path) if isinstance(event, Row))


def _polars(path: Path) -> int:
    return pl.read_csv(path, infer_schema=False).height


def _best_of(repeat: int, run: Callable[[Path], int], path: Path) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        rows = run(path)
        best = min(best, time.perf_counter() - start)
    return best, rows


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the file, time both readers (best of ``--repeat``) and print a table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.codec", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="records to generate")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed")
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader; best is kept")
    add_json_argument(parser)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="acctpipe-bench-") as tmp:
        path = Path(tmp) / "acct.csv"
        write_synthetic_accounting(path, args.rows, args.seed)
        size_mb = path.stat().st_size / 1e6
        ours_s, ours_rows = _best_of(args.repeat, _ours, path)
        polars_s, polars_rows = _best_of(args.repeat, _polars, path)

    print(f"accounting file: {args.rows} records, {size_mb:.1f} MB, best of {args.repeat}")
    print(f"{'reader':<28}{'rows':>10}{'seconds':>10}{'rows/s':>14}")
    for name, seconds, rows in (
        ("acctpipe read_accounting", ours_s, ours_rows),
        ("polars.read_csv (String)", polars_s, polars_rows),
    ):
        print(f"{name:<28}{rows:>10}{seconds:>10.3f}{rows / seconds:>14,.0f}")
    print(f"ratio ours/polars (throughput): {polars_s / ours_s:.3f}")
    figure = Figure(
        "read_accounting", ours_rows / ours_s, "rows/s", "polars.read_csv", polars_rows / polars_s
    )
    write_figures(parser, argv, args.json, [figure])
    if ours_rows != polars_rows:
        print(f"row counts differ: ours {ours_rows}, polars {polars_rows}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

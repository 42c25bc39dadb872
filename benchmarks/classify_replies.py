"""SMTP reply classification throughput: vectorised vs scalar vs a bare ``re`` loop.

Builds a diagnostics column from the labelled corpus (tests/data/replies/replies.csv)
with varied IP addresses, recipients and queue ids, then times

* ``classify_frame`` — the vectorised path the tailer uses (best of ``--repeat``);
* ``classify_diag`` without its cache over the column's distinct values — the scalar
  path, i.e. the specification, doing all the work;
* a bare ``re`` loop: the table's compiled text patterns, first match wins, on the raw
  diagnostics with no parsing — the least any Python per-row loop can do (baseline).

The Python loops run on a ``--sample`` of their input and report a rate. Everything
runs once on a realistic column (``--variants`` values per variable token; the
distinct ratio is printed) and once on a column where every diagnostic is distinct.

One core, honestly: ``POLARS_MAX_THREADS`` is set to 1 before polars is imported
(export another value to override), so polars gets no more cores than Python does.

    .venv/bin/python -m benchmarks.classify_replies --rows 1000000
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before polars is first imported

import argparse
import csv
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from benchmarks._report import Figure, add_json_argument, write_figures
from classifiers.reply import classify_diag, default_table
from classifiers.vector import OUTPUT_COLUMNS, classify_frame

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "replies" / "replies.csv"
# The parts of a corpus diagnostic that vary between real messages.
_TOKEN = re.compile(
    r"192\.0\.2\.[0-9]+|198\.51\.100\.[0-9]+|someone|[a-z][0-9]si[0-9]+[a-z]*\.[0-9]+"
)


def _templates() -> list[tuple[list[str], str]]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        return [(_TOKEN.split(row["diag"]), row["status"]) for row in csv.DictReader(f)]


def _fill(parts: list[str], variant: int) -> str:
    address = f"10.{variant >> 16 & 255}.{variant >> 8 & 255}.{variant & 255}"
    tokens = (address, f"user{variant}", f"k{variant % 9}si{variant}qtb.7")
    out = [parts[0]]
    for n, part in enumerate(parts[1:]):
        out.extend((tokens[n % 3], part))
    return "".join(out)


def build_column(rows: int, variants: int | None, seed: int) -> pl.DataFrame:
    """A dsnDiag/dsnStatus frame; ``variants=None`` makes every diagnostic distinct."""
    rng = random.Random(seed)
    templates = _templates()
    diags, statuses = [], []
    for i in range(rows):
        parts, status = rng.choice(templates)
        if variants is None:
            diag = _fill(parts, i) if len(parts) > 1 else f"{parts[0]} [{i}]"
        else:
            diag = _fill(parts, rng.randrange(variants))
        diags.append(diag)
        statuses.append(status)
    return pl.DataFrame({"dsnDiag": diags, "dsnStatus": statuses})


def _best_of(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _bare_re_loop(diags: Sequence[str]) -> None:
    patterns = [rule.text_re for rule in default_table() if rule.text_re is not None]
    for diag in diags:
        for pattern in patterns:
            if pattern.search(diag):
                break


def _scalar_uncached(pairs: Sequence[tuple[str, str]]) -> None:
    table = default_table()  # an explicit table bypasses the LRU cache
    for diag, status in pairs:
        classify_diag(diag, status, table=table)


def _run(
    title: str, label: str, frame: pl.DataFrame, repeat: int, sample: int, seed: int
) -> Figure | None:
    """Time the three paths on ``frame`` and print its table; None if the paths disagree."""
    rng = random.Random(seed)
    rows = frame.height
    distinct = frame.unique().height
    vector_s = _best_of(repeat, lambda: classify_frame(frame))
    pairs = list(frame.unique().iter_rows())
    pairs_sample = rng.sample(pairs, min(sample, len(pairs)))
    scalar_s = _best_of(1, lambda: _scalar_uncached(pairs_sample))
    diags_sample = rng.sample(frame["dsnDiag"].to_list(), min(sample, rows))
    bare_s = _best_of(1, lambda: _bare_re_loop(diags_sample))

    print(f"\n{title}: {rows:,} rows, {distinct:,} distinct ({distinct / rows:.2%})")
    print(f"{'path':<44}{'items':>12}{'seconds':>10}{'diagnostics/s':>16}{'x bare re':>11}")
    bare_rate = len(diags_sample) / bare_s
    for name, items, seconds in (
        ("vectorised classify_frame (whole column)", rows, vector_s),
        ("scalar classify_diag, uncached (distinct)", len(pairs_sample), scalar_s),
        ("bare re loop, text patterns (rows)", len(diags_sample), bare_s),
    ):
        rate = items / seconds
        print(f"{name:<44}{items:>12,}{seconds:>10.3f}{rate:>16,.0f}{rate / bare_rate:>11.1f}")

    # The benchmark is no test, but a figure for wrong answers would be worthless.
    check = frame.filter(pl.col("dsnDiag").is_in([d for d, _ in pairs_sample[:500]]))
    got = classify_frame(check).select(OUTPUT_COLUMNS).iter_rows()
    for (diag, status), row in zip(check.iter_rows(), got, strict=True):
        verdict = classify_diag(diag, status)
        if (verdict.category, verdict.cls, verdict.rule_id, verdict.fault) != row:
            print(f"MISMATCH {diag!r}: vector {row}, scalar {verdict}", file=sys.stderr)
            return None
    return Figure(f"classify_frame, {label}", rows / vector_s, "diags/s", "bare re loop", bare_rate)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the columns, time the three paths on each and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.classify_replies", description=__doc__
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="diagnostics per column")
    parser.add_argument("--variants", type=int, default=200, help="values per variable token")
    parser.add_argument("--repeat", type=int, default=3, help="vectorised runs; best is kept")
    parser.add_argument("--sample", type=int, default=5_000, help="items for the Python loops")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed")
    add_json_argument(parser)
    args = parser.parse_args(argv)

    print(
        f"SMTP reply classification, {len(default_table())} rules, polars {pl.__version__}, "
        f"POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']} "
        f"(polars threads: {pl.thread_pool_size()}), vectorised best of {args.repeat}"
    )
    realistic = build_column(args.rows, args.variants, args.seed)
    realistic_figure = _run(
        f"realistic column ({args.variants} variants per token)",
        "realistic column",
        realistic,
        args.repeat,
        args.sample,
        args.seed,
    )
    distinct = build_column(args.rows, None, args.seed)
    distinct_figure = _run(
        "every diagnostic distinct", "all distinct", distinct, args.repeat, args.sample, args.seed
    )
    figures = [f for f in (realistic_figure, distinct_figure) if f is not None]
    write_figures(parser, argv, args.json, figures)
    return 0 if len(figures) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())

"""A suppression list at an ESP's scale (issue 18): import, export, feed, set — beside the database.

For each backend (a SQLite file in a temporary directory; a PostgreSQL
database created at 127.0.0.1:5432 and dropped afterwards) and a generated
plain list of N addresses (:mod:`benchmarks._scale_data`: several domains, some
upper case, some ``+tags``, ~1% duplicates, a few invalid lines):

* **ceiling**: the database's own bulk path over the same file, as a process
  (PostgreSQL ``psql \\copy`` into a bare one-column table; SQLite
  ``executemany`` into a PRIMARY KEY column), run just before and just after
  ours; the faster of the two is the ceiling;
* **import**: ``acctpipe suppress import FILE`` end to end (process start
  included): addresses/s, ratio to the ceiling, peak RSS; then the same
  import again, which must add and update nothing;
* **bulk API**: ``POST /v1/suppressions/bulk`` of another list of N/10, the
  body streamed, to ``acctpipe serve``;
* **lookups during an import**: ``GET /v1/suppressions/{address}`` at a fixed
  rate (:class:`benchmarks._scale_http.LookupLoad`) first alone, then while
  ``acctpipe suppress import`` of a third, fresh list of ``--during`` addresses
  runs: p99;
* **export**: ``acctpipe suppress export -o FILE`` (rows/s, peak RSS) beside
  the database's own CSV dump of the same columns, and ``GET
  /v1/suppressions/export.csv`` streamed;
* **change feed**: a consumer from cursor 0 to the end, in process
  (``SuppressionStore.changes_since``, pages of 10,000) and over HTTP
  (``/v1/suppressions/changes?limit=10000``);
* **set**: a node's RCPT-time set loaded from the store in a fresh process
  (:func:`benchmarks._scale_set.load_set`): seconds, bytes per address held,
  full checks/s.

Every import's result is checked: the rows the table holds, the kept count,
the bad lines reported. ``--set-only N`` instead builds the set from N
generated keys (no database) and, with ``--pg-rows M``, times its load from a
PostgreSQL store ``COPY``-filled with M generated rows.

    .venv/bin/python -m benchmarks.suppression_scale --addresses 10000000
    .venv/bin/python -m benchmarks.suppression_scale --set-only 50000000 --pg-rows 10000000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from acctpipe.sqlstore import migrate
from benchmarks._report import Figure, Row, Target, add_json_argument, format_number, write_figures
from benchmarks._scale_data import AddressFile, postgres_database, sqlite_url, write_addresses
from benchmarks._scale_proc import run
from benchmarks._scale_set import fill_postgres
from benchmarks._scale_steps import (
    CHECKS_TARGET,
    SET_BYTES_TARGET,
    SET_LOAD_RATE,
    Scale,
    load_in_child,
    say,
)

__all__ = ["main"]


@contextlib.contextmanager
def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield sqlite_url(tmp)


def _backend(backend: str, files: dict[str, AddressFile], opts: argparse.Namespace) -> Scale:
    with tempfile.TemporaryDirectory(prefix=f"acctpipe-scale-{backend}-") as name:
        tmp = Path(name)
        with _database(backend, tmp) as url:
            migrate(url)
            scale = Scale(backend, url, tmp, opts.lookup_rate, opts.idle_seconds)
            say(f"{backend}:")
            scale.imports(files["main"])
            scale.api(files["main"], files["bulk"], files["during"])
            scale.node_set(files["main"])
    return scale


def _set_only(n: int, pg_rows: int) -> tuple[list[Figure], list[str]]:
    """The set of ``n`` generated keys; with ``pg_rows``, loaded from that many rows too."""
    done = run([sys.executable, "-m", "benchmarks._scale_set", "keys", str(n)])
    got = json.loads(done.stdout)
    say(
        f"set of {n:,} generated keys: built in {got['seconds']:.1f} s, "
        f"{got['bytes_per_entry']:.1f} B/key held ({got['held_mb']:,.0f} MB; "
        f"{got['nbytes_per_entry']:.1f} B by the set's own count), peak "
        f"+{got['peak_mb']:,.0f} MB; {got['checks_per_s']:,.0f} full checks/s"
    )
    problems = [f"generated set: {got['wrong']} wrong answers"] if got["wrong"] else []
    memory, checks = Target("<=", SET_BYTES_TARGET), Target(">=", CHECKS_TARGET)
    figures = [
        Figure(f"set memory per address, {n:,} keys", got["bytes_per_entry"], "B", target=memory),
        Figure(f"set full checks, {n:,} keys", got["checks_per_s"], "checks/s", target=checks),
    ]
    if pg_rows:
        with postgres_database("set") as url:
            migrate(url)
            fill = fill_postgres(url, pg_rows)
            say(f"PostgreSQL store filled with {pg_rows:,} generated rows by COPY in {fill:.1f} s")
            got = load_in_child(url, pg_rows, "s")
        fifty = got["seconds"] * 50e6 / pg_rows
        say(f"  50M rows extrapolated linearly from {pg_rows:,}: {fifty:,.0f} s")
        if got["wrong"] or got["entries"] != pg_rows:
            problems.append(f"set from PostgreSQL: {got['entries']} entries, {got['wrong']} wrong")
        rate = got["entries"] / got["seconds"]
        target = Target(">=", SET_LOAD_RATE, note="50M in 60 s")
        figures.append(Figure(f"set load from PostgreSQL, {pg_rows:,} rows", rate, "entries/s",
                              target=target))  # fmt: skip
    return figures, problems


def _files(tmp: Path, n: int, opts: argparse.Namespace) -> dict[str, AddressFile]:
    sizes = {
        "main": (n, ""),
        "bulk": (max(1, n // 10), "bulk."),
        "during": (opts.during, "during."),
    }
    files = {}
    for name, (lines, prefix) in sizes.items():
        started = time.perf_counter()
        f = write_addresses(tmp / f"{name}.csv", lines, seed=opts.seed + len(prefix), prefix=prefix)
        say(
            f"{name} list: {f.lines:,} lines ({f.distinct:,} distinct, {f.invalid} invalid), "
            f"{f.size_mb:.1f} MB, written in {time.perf_counter() - started:.1f} s"
        )
        files[name] = f
    return files


def _print(figures: Sequence[Figure], command: str) -> None:
    rows = [Row.of("suppression_scale", command, f) for f in figures]
    say(f"{'figure':<58}{'value':>18}  {'ceiling (same run)':<40}{'ratio':>7}  {'target':<22}met")
    for r in rows:
        value = f"{format_number(r.value)} {r.unit}"
        ceiling = (
            f"{r.ceiling_name}: {format_number(r.ceiling_value)}"
            if r.ceiling_name and r.ceiling_value is not None
            else "—"
        )
        ratio = format_number(r.ratio) if r.ratio is not None else "—"
        met = {True: "✓", False: "✗", None: ""}[r.met]
        say(f"{r.figure:<58}{value:>18}  {ceiling:<40}{ratio:>7}  {r.target or '—':<22}{met}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every step on each backend (or the set alone); print the table; 1 on a wrong result."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suppression_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--addresses", type=int, default=100_000, help="lines in the list (N)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--during", type=int, help="addresses imported while lookups run (N)")
    parser.add_argument("--lookup-rate", type=float, default=50.0, help="lookups per second")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="lookups with no import")
    parser.add_argument("--seed", type=int, default=20261207, help="random seed of the lists")
    parser.add_argument(
        "--set-only", type=int, metavar="N", help="only the set, of N generated keys"
    )
    parser.add_argument(
        "--pg-rows", type=int, default=0, metavar="M",
        help="with --set-only: also time its load from M rows in PostgreSQL",
    )  # fmt: skip
    add_json_argument(parser)
    opts = parser.parse_args(argv)
    command = " ".join(
        ["python -m benchmarks.suppression_scale", *(sys.argv[1:] if argv is None else argv)]
    )
    say(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start")
    if opts.set_only:
        figures, problems = _set_only(opts.set_only, opts.pg_rows)
    else:
        backends = [b.strip() for b in opts.backends.split(",") if b.strip()]
        unknown = set(backends) - {"sqlite", "postgresql"}
        if unknown:
            parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
        opts.during = opts.during or opts.addresses
        figures, problems = [], []
        with tempfile.TemporaryDirectory(prefix="acctpipe-scale-") as tmp:
            files = _files(Path(tmp), opts.addresses, opts)
            for backend in backends:
                scale = _backend(backend, files, opts)
                figures += scale.figures
                problems += scale.problems
    _print(figures, command)
    write_figures(parser, argv, opts.json, figures)
    for problem in problems:
        print(f"wrong result: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

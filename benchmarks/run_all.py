"""Run every benchmark and print one table: figure, ceiling measured in the same run, ratio, target.

Each benchmark runs as its own process (``python -m benchmarks.NAME ... --json
FILE``, the command shown in the table's notes), one after the other so they do
not compete for the cores, and writes its headline figures as JSON rows (see
:mod:`benchmarks._report`). A benchmark that fails, times out or writes no rows
becomes a row saying so; the others still run, and the exit status is then 1.
A target missed is shown (✗) but is no failure: figures are never assertions.

The default sizes take about 5-10 minutes on a 2-core VM; ``--quick`` is a
smoke run of about a minute (its figures are too small to quote).

    .venv/bin/python -m benchmarks.run_all --markdown benchmarks.md
    .venv/bin/python -m benchmarks.run_all --quick --only codec --only mta
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from benchmarks._report import Row, add_json_argument, format_number, read_rows, write_rows

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "Outcome",
    "machine",
    "main",
    "markdown",
    "run_benchmark",
    "table",
]

_ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Benchmark:
    """A benchmark module and its arguments for the full run and for ``--quick``."""

    name: str
    full: str
    quick: str

    @property
    def module(self) -> str:
        """The module ``python -m`` runs."""
        return f"benchmarks.{self.name}"

    def args(self, *, quick: bool) -> list[str]:
        """The command-line arguments for the full or the quick run."""
        return shlex.split(self.quick if quick else self.full)

    def is_present(self) -> bool:
        """Whether the module exists in this checkout."""
        return importlib.util.find_spec(self.module) is not None


# The full sizes are each module's documented defaults (the figures the issues
# quote); the quick ones only prove the benchmark still runs end to end.
BENCHMARKS: Final = (
    Benchmark("codec", "--rows 200000", "--rows 20000 --repeat 1"),
    Benchmark("classify_replies", "--rows 1000000", "--rows 50000 --repeat 1 --sample 1000"),
    Benchmark("classify_messages", "--messages 10000", "--messages 2000 --runs 1 --repeat 1"),
    Benchmark("accuracy", "", ""),
    Benchmark("ingest", "--rows 1000000", "--rows 50000"),
    Benchmark("tail_latency", "--rate 20000 --seconds 10", "--rate 5000 --seconds 2"),
    Benchmark("mta", "--count 20000", "--count 1000"),
    Benchmark("smtp_core", "--messages 20000", "--messages 1000"),
    Benchmark("relay_peer", "--count 20000 --workers 0", "--count 1000 --workers 0"),
    Benchmark("submit_single", "--count 2000", "--count 200"),
    Benchmark("suppression", "--entries 1000000", "--entries 100000 --lookups 50000"),
    Benchmark("feedback_latency", "--rounds 30", "--rounds 5"),
    Benchmark(
        "api", "--changes 200000 --seconds 10", "--changes 5000 --seconds 1 --direct-lookups 500"
    ),
    Benchmark(
        "api_lookup", "--suppressions 200000 --seconds 10", "--suppressions 5000 --seconds 1"
    ),
    Benchmark(
        "suppression_scale",
        "--addresses 100000",
        "--addresses 1000 --idle-seconds 0.5 --backends sqlite",
    ),
)


@dataclass(frozen=True)
class Outcome:
    """What one benchmark process gave: its rows, or why it gave none."""

    name: str
    command: str
    seconds: float
    rows: list[Row] = field(default_factory=list)
    error: str | None = None  # set when the benchmark failed
    skipped: str | None = None  # set when it did not run at all
    output: str = ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no stderr)"


def _kill_group(proc: subprocess.Popen[str]) -> None:
    # The benchmark's own children (the ISP sink, the API server) share its group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def run_benchmark(bench: Benchmark, *, quick: bool, timeout: float) -> Outcome:
    """Run one benchmark in its own process group and collect its JSON rows."""
    args = bench.args(quick=quick)
    command = shlex.join(["python", "-m", bench.module, *args])
    if not bench.is_present():
        return Outcome(bench.name, command, 0.0, skipped=f"{bench.module} is not in this checkout")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="acctpipe-run-all-") as tmp:
        out = Path(tmp) / "rows.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", bench.module, *args, "--json", str(out)],
            cwd=_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            seconds = time.perf_counter() - started
            return Outcome(bench.name, command, seconds, error=f"timed out after {timeout:.0f} s")
        except BaseException:
            _kill_group(proc)
            raise
        seconds = time.perf_counter() - started
        try:
            rows = read_rows(out) if out.exists() else []
        except (ValueError, TypeError) as exc:
            return Outcome(bench.name, command, seconds, error=f"unreadable rows: {exc}")
    error: str | None = None
    if proc.returncode != 0:
        error = f"exit {proc.returncode}: {_last_line(stderr)}"
    elif not rows:
        error = "exit 0 but no rows written (does it take --json?)"
    return Outcome(bench.name, command, seconds, rows, error, output=stdout)


def _cpu_model() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        info = []

    def first(key: str) -> str:
        for line in info:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
        return ""

    model = first("model name") or platform.processor() or platform.machine()
    return f"{model} (virtual machine)" if "hypervisor" in first("flags").split() else model


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB RAM"
    except (OSError, ValueError):
        pass
    return "RAM unknown"


def _os() -> str:
    try:
        name = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        name = ""
    return f"{name or platform.system()} (kernel {platform.release()})"


def machine(now: datetime) -> str:
    """One line naming the machine: CPU, cores, RAM, OS, Python, load, date (UTC)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return " · ".join(
        (
            _cpu_model(),
            f"{os.cpu_count()} cores",
            _ram(),
            _os(),
            f"{platform.python_implementation()} {platform.python_version()}",
            f"load {load:.2f} at start",
            now.strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def _cells(row: Row) -> tuple[str, str, str, str, str]:
    """value, ceiling, ratio, target, met — as the table and the Markdown show them."""
    value = f"{format_number(row.value)} {row.unit}"
    ceiling = "—"
    if row.ceiling_name is not None and row.ceiling_value is not None:
        ceiling = f"{row.ceiling_name}: {format_number(row.ceiling_value)} {row.unit}"
    ratio = format_number(row.ratio) if row.ratio is not None else "—"
    met = {True: "✓", False: "✗", None: ""}[row.met]
    return value, ceiling, ratio, row.target or "—", met


def _lines(outcomes: Sequence[Outcome]) -> list[tuple[str, ...]]:
    """The table's rows: benchmark, figure, value, ceiling, ratio, target, met."""
    lines: list[tuple[str, ...]] = []
    for o in outcomes:
        lines.extend((o.name, row.figure, *_cells(row)) for row in o.rows)
        if o.skipped:
            lines.append((o.name, f"skipped: {o.skipped}", "—", "—", "—", "—", ""))
        if o.error:
            lines.append((o.name, f"FAILED: {o.error}", "—", "—", "—", "—", "✗"))
    return lines


def table(outcomes: Sequence[Outcome]) -> Table:
    """The rich table of every outcome."""
    t = Table(title="acctpipe benchmarks", show_lines=False)
    t.add_column("benchmark", style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("ceiling (same run)")
    t.add_column("ratio", justify="right")
    t.add_column("target")
    t.add_column("met", justify="center")
    marks = {"✓": "green", "✗": "red"}
    for line in _lines(outcomes):
        cells = [Text(cell) for cell in line[:-1]]  # plain text: no rich markup in figures
        style = "red" if line[1].startswith("FAILED") else None
        t.add_row(*cells, Text(line[-1], style=marks.get(line[-1], "")), style=style)
    return t


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def markdown(outcomes: Sequence[Outcome], machine_line: str, wall: float, command: str) -> str:
    """The same table as Markdown, headed with the machine, for the README."""
    head = ("benchmark", "figure", "value", "ceiling (same run)", "ratio", "target", "met")
    align = ("---", "---", "--:", "---", "--:", "---", ":-:")
    out = [
        f"Machine: {machine_line}. `{command}`: {_duration(wall)} wall.",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(align) + " |",
    ]
    out.extend(
        "| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in _lines(outcomes)
    )
    out += ["", "Commands (each also given `--json FILE`):", ""]
    out.extend(f"* `{o.command}` — {_duration(o.seconds)}" for o in outcomes if not o.skipped)
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks one after the other; print the table; 1 if any failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_all",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = [b.name for b in BENCHMARKS]
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only", action="append", choices=names, metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(names)}",
    )  # fmt: skip
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="write the table as Markdown")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per benchmark before it is killed"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also print each benchmark's own output"
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    shown = [*(["--quick"] if args.quick else []), *(f"--only={n}" for n in args.only or ())]
    command = shlex.join(["python", "-m", "benchmarks.run_all", *shown])

    console = Console(width=None if sys.stdout.isatty() else 160)  # no wrapping in logs
    started_at = datetime.now(UTC)
    machine_line = machine(started_at)
    console.print(machine_line, style="dim", soft_wrap=True, markup=False, highlight=False)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("benchmarks", total=len(chosen))
        for bench in chosen:
            progress.update(task, description=f"[bold]{bench.name}[/bold]")
            outcome = run_benchmark(bench, quick=args.quick, timeout=args.timeout)
            outcomes.append(outcome)
            status = outcome.skipped or outcome.error or f"{len(outcome.rows)} rows"
            mark = "[red]✗[/red]" if outcome.error else "[green]✓[/green]"
            progress.console.print(f"{mark} {bench.name} ({_duration(outcome.seconds)}): {status}")
            if args.verbose and outcome.output:
                progress.console.print(outcome.output, markup=False, highlight=False)
            progress.advance(task)
    wall = time.perf_counter() - started

    console.print(table(outcomes))
    console.print(f"wall time {_duration(wall)}")
    if args.markdown:
        args.markdown.write_text(markdown(outcomes, machine_line, wall, command), encoding="utf-8")
    if args.json:
        write_rows(args.json, [row for o in outcomes for row in o.rows])
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())

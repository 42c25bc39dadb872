"""Result rows every benchmark can write as JSON (``--json PATH``), for ``benchmarks.run_all``.

A benchmark keeps printing its own table; with ``--json PATH`` it also writes a
list of rows, one per headline figure::

    {"benchmark": "codec", "figure": "read_accounting", "value": 151234.5,
     "unit": "rows/s", "ceiling_name": "polars.read_csv", "ceiling_value": 1094512.0,
     "ratio": 0.138, "target": null, "met": null,
     "command": "python -m benchmarks.codec --rows 200000"}

``ratio`` is always ``value / ceiling_value`` (both in ``unit``), so for rates
higher is better; ``target`` is the issue's bound as text and ``met`` whether
this run met it (``null`` when there is no target). A module only builds
:class:`Figure` values; :func:`write_figures` adds the benchmark name, the ratio,
the verdict and the command line.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Figure",
    "Row",
    "Target",
    "add_json_argument",
    "format_number",
    "read_rows",
    "write_figures",
    "write_rows",
]

Op = Literal[">=", ">", "<=", "<"]
_SYMBOL: dict[Op, str] = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


def format_number(value: float) -> str:
    """``1,234,567`` for large values, three significant digits for small ones."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class Target:
    """A bound from the issue: on the figure itself or on its ratio to the ceiling."""

    op: Op
    bound: float
    of: Literal["value", "ratio"] = "value"
    note: str = ""

    def text(self, unit: str) -> str:
        """The target as a reader sees it, e.g. ``≥ 1,000 msg/s`` or ``ratio ≥ 0.5``."""
        bound = f"{_SYMBOL[self.op]} {format_number(self.bound)}"
        text = f"ratio {bound}" if self.of == "ratio" else f"{bound} {unit}".rstrip()
        return f"{text} ({self.note})" if self.note else text

    def is_met(self, value: float, ratio: float | None) -> bool | None:
        """Whether ``value`` (or ``ratio``) satisfies the bound; ``None`` if it cannot say."""
        x = ratio if self.of == "ratio" else value
        if x is None or not math.isfinite(x):
            return None
        if self.op == ">=":
            return x >= self.bound
        if self.op == ">":
            return x > self.bound
        if self.op == "<=":
            return x <= self.bound
        return x < self.bound


@dataclass(frozen=True)
class Figure:
    """One headline figure of a benchmark run, with the ceiling measured beside it."""

    name: str
    value: float
    unit: str
    ceiling_name: str | None = None
    ceiling_value: float | None = None
    target: Target | None = None


@dataclass(frozen=True)
class Row:
    """One JSON row: a figure with its benchmark, ratio, target, verdict and command."""

    benchmark: str
    figure: str
    value: float
    unit: str
    ceiling_name: str | None
    ceiling_value: float | None
    ratio: float | None
    target: str | None
    met: bool | None
    command: str

    @classmethod
    def of(cls, benchmark: str, command: str, figure: Figure) -> Row:
        """Build the row for ``figure``: ratio = value / ceiling, verdict from the target."""
        ceiling = figure.ceiling_value
        ratio = figure.value / ceiling if ceiling else None
        target = figure.target
        return cls(
            benchmark=benchmark,
            figure=figure.name,
            value=figure.value,
            unit=figure.unit,
            ceiling_name=figure.ceiling_name,
            ceiling_value=ceiling,
            ratio=ratio,
            target=target.text(figure.unit) if target else None,
            met=target.is_met(figure.value, ratio) if target else None,
            command=command,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        """Read a row back from its JSON object (unknown keys are an error)."""
        return cls(**data)


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--json PATH``: also write the result rows there (the printed output is unchanged)."""
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the headline figures as a JSON list of rows to PATH",
    )


def _command(prog: str, argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            kept.append(arg)
    return shlex.join([*prog.split(), *kept])


def write_figures(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    path: Path | None,
    figures: Iterable[Figure],
) -> None:
    """Write ``figures`` as JSON rows to ``path`` (nothing when ``path`` is None).

    The benchmark's name is the last part of ``parser.prog``
    (``python -m benchmarks.codec`` → ``codec``); the command is that prog with
    ``argv`` minus ``--json``, so it reproduces the run.
    """
    if path is None:
        return
    benchmark = parser.prog.rsplit(".", 1)[-1]
    command = _command(parser.prog, argv)
    write_rows(path, [Row.of(benchmark, command, f) for f in figures])


def write_rows(path: Path, rows: Iterable[Row]) -> None:
    """Write ``rows`` to ``path`` as a JSON list of objects (UTF-8, indented)."""
    data = [asdict(row) for row in rows]
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_rows(path: Path) -> list[Row]:
    """The rows a benchmark wrote with ``--json``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of rows")
    return [Row.from_json(item) for item in data]

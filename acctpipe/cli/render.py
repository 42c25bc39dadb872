"""How the command line writes a query's rows: a table, CSV, JSON or Parquet.

* ``table`` (the default) — on a terminal, the first ``--limit`` rows (100
  unless given) fitted to its width; anywhere else (a pipe, a file) every row
  at its full width, never truncated or wrapped.
* ``csv`` — RFC 4180, as ``/v1/sql`` writes it (spreadsheet-safe text cells).
* ``json`` — one array of objects, one object per row, values as the API
  gives them (ISO 8601 times, lists and structs as JSON).
* ``parquet`` — binary, so only to a file (``-o FILE``) or a pipe, never to a
  terminal.

``-o -`` (or no ``-o``) means standard output, as everywhere in the CLI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final, Literal

from rich.cells import cell_len
from rich.table import Table

from acctpipe.analytics.result import QueryResult, jsonable, to_csv
from acctpipe.cli.console import make_console
from mta.errors import InvalidValueError

__all__ = ["FORMATS", "TERMINAL_LIMIT", "OutputFormat", "is_stdout", "write_rows"]

OutputFormat = Literal["table", "csv", "json", "parquet"]
FORMATS: Final[tuple[OutputFormat, ...]] = ("table", "csv", "json", "parquet")
TERMINAL_LIMIT: Final = 100  # rows a table shows on a terminal unless --limit says otherwise


def is_stdout(output: Path | None) -> bool:
    """Does ``output`` mean standard output (no ``-o``, or ``-o -``)?"""
    return output is None or str(output) == "-"


def _unique(columns: Sequence[str]) -> list[str]:
    # SQL allows two columns of one name (SELECT 1, 1); JSON keys and Parquet do not.
    seen: dict[str, int] = {}
    names = []
    for name in columns:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}_{count}")
    return names


@contextmanager
def _text_out(output: Path | None) -> Iterator[IO[str]]:
    if is_stdout(output):
        yield sys.stdout
        sys.stdout.flush()
        return
    assert output is not None
    with output.open("w", encoding="utf-8", newline="") as stream:
        yield stream


def _table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], stream: IO[str]) -> None:
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    terminal = stream is sys.stdout and sys.stdout.isatty()
    width = None
    if not terminal:
        # As wide as the widest line needs: a pipe or a file gets every character.
        widest = [cell_len(c) for c in columns]
        for row in cells:
            for i, cell in enumerate(row):
                lines = cell.splitlines()
                widest[i] = max(widest[i], max((cell_len(x) for x in lines), default=0))
        width = sum(widest) + 3 * len(widest) + 1
    console = make_console(file=stream, width=width, force_terminal=terminal or None)
    table = Table(*columns, show_lines=False)
    for row in cells:
        table.add_row(*row)
    console.print(table)


def _json(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], stream: IO[str]) -> None:
    names = _unique(columns)
    stream.write("[")
    for n, row in enumerate(rows):
        item = {k: jsonable(v) for k, v in zip(names, row, strict=True)}
        stream.write(("\n" if n == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
    stream.write("\n]\n" if rows else "]\n")


def _parquet(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], output: Path | None) -> None:
    import polars as pl

    if is_stdout(output) and sys.stdout.isatty():
        raise InvalidValueError("Parquet is binary: write it to a file with -o FILE (or pipe it)")
    try:
        frame = pl.DataFrame(rows, schema=_unique(columns), orient="row", strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise InvalidValueError(f"cannot write these values as Parquet: {exc}") from exc
    if is_stdout(output):
        frame.write_parquet(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        assert output is not None
        frame.write_parquet(output)


def write_rows(
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    format: OutputFormat,
    output: Path | None = None,
    limit: int | None = None,
) -> int:
    """Write ``rows`` in ``format`` to ``output`` (None or ``-``: stdout); return rows written.

    ``limit`` caps the rows; without one, a table on a terminal shows
    :data:`TERMINAL_LIMIT` rows and every other output gets them all.
    """
    if limit is None and format == "table" and is_stdout(output) and sys.stdout.isatty():
        limit = TERMINAL_LIMIT
    shown = rows if limit is None else rows[:limit]
    if format == "parquet":
        _parquet(columns, shown, output)
        return len(shown)
    with _text_out(output) as stream:
        if format == "csv":
            result = QueryResult(list(columns), [], list(shown), False, 0.0)
            stream.writelines(to_csv(result))
        elif format == "json":
            _json(columns, shown, stream)
        else:
            _table(columns, shown, stream)
    return len(shown)

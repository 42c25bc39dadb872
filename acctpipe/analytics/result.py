"""A query's result as the API hands it out: columns, types, rows, and JSON/CSV forms.

:func:`jsonable` turns one DuckDB value into something ``json.dumps`` accepts
(with ``allow_nan=False``) and means the same everywhere:

* ``TIMESTAMPTZ`` → ISO 8601 in UTC with its offset (``2026-11-25T07:00:00+00:00``);
  a ``TIMESTAMP`` (no time zone) → ISO 8601 without one;
* ``DATE`` / ``TIME`` → ISO 8601; ``INTERVAL`` → seconds (a number);
* ``DECIMAL`` → a number (an integer when its scale is 0);
* ``NaN`` / ``±Infinity`` → the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
* ``UUID`` → its text; ``BLOB`` → base64; lists, structs and maps → JSON arrays
  and objects (map keys as text).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, overload
from uuid import UUID

from acctpipe._csvsafe import Verbatim, csv_line

__all__ = ["JsonRows", "QueryResult", "jsonable", "to_csv"]

JSONValue = None | bool | int | float | str | list[Any] | dict[str, Any]


class JsonRows(Sequence[tuple[Any, ...]]):
    """Rows kept as JSON text (one array per row), decoded only when read.

    The SQL sandbox's answer: the server passes :meth:`json_text` on as it is,
    so a result costs the server its size in bytes, not a Python object per value.
    """

    __slots__ = ("_lines",)

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return [tuple(json.loads(line)) for line in self._lines[index]]
        return tuple(json.loads(self._lines[index]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def json_text(self) -> bytes:
        """The rows as one JSON array, without decoding them."""
        return b"[" + b",".join(self._lines) + b"]"

    def __repr__(self) -> str:
        return f"JsonRows({len(self._lines)} rows)"


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a query: at most the row limit, with ``truncated`` set if more existed."""

    columns: list[str]
    types: list[str]
    rows: Sequence[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float
    # Why rows were left out ("rows" or "bytes"), and when the data was current (the SQL
    # sandbox reads a snapshot); None for results read live (the named reports).
    truncated_by: str | None = None
    snapshot_at: datetime | None = None

    def json_rows(self) -> list[list[JSONValue]]:
        """The rows with every value passed through :func:`jsonable`."""
        return [[jsonable(v) for v in row] for row in self.rows]

    def as_dict(self, *, rows: bool = True) -> dict[str, Any]:
        """The whole result as a JSON-ready mapping (rows as lists; left out if not ``rows``)."""
        return {
            "columns": list(self.columns),
            "types": list(self.types),
            **({"rows": self.json_rows()} if rows else {}),
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def jsonable(value: Any) -> JSONValue:
    """``value`` (as DuckDB's Python client returns it) in a JSON-safe form (see module doc)."""
    if value is None:
        return None
    if isinstance(value, bool | int | str):
        shown: bool | int | str = value
        return shown
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, datetime):
        moment: datetime = value if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        if not value.is_finite():
            return _float(float(value))
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value  # free text: csv_line neutralises a would-be formula
    shown = jsonable(value)
    if shown is None:
        return Verbatim("")
    if isinstance(shown, bool):
        return Verbatim("true" if shown else "false")
    if isinstance(shown, list | dict):
        return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)
    return Verbatim(str(shown))  # numbers, times, UUIDs, base64: never a formula


def to_csv(result: QueryResult) -> Iterator[str]:
    """The result as CSV lines (header first), RFC 4180: CRLF line ends, quotes doubled.

    NULL is an empty field; lists and structs are JSON text; other values as in
    :func:`jsonable`. A text value a spreadsheet would run as a formula (``=…``,
    ``+…``, ``-…``, ``@…``) is written ``"'=…"`` (OWASP; see :mod:`acctpipe._csvsafe`).
    One line is built at a time, so it can be streamed.
    """
    yield csv_line(result.columns, "\r\n")
    for row in result.rows:
        yield csv_line([_cell(v) for v in row], "\r\n")

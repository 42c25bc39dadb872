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
import csv
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

__all__ = ["QueryResult", "jsonable", "to_csv"]

JSONValue = None | bool | int | float | str | list[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a query: at most the row limit, with ``truncated`` set if more existed."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float
    # Why rows were left out ("rows" or "bytes"), and when the data was current (the SQL
    # sandbox reads a snapshot); None for results read live (the named reports).
    truncated_by: str | None = None
    snapshot_at: datetime | None = None

    def json_rows(self) -> list[list[JSONValue]]:
        """The rows with every value passed through :func:`jsonable`."""
        return [[jsonable(v) for v in row] for row in self.rows]

    def as_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-ready mapping (rows as lists)."""
        return {
            "columns": list(self.columns),
            "types": list(self.types),
            "rows": self.json_rows(),
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
    shown = jsonable(value)
    if shown is None:
        return ""
    if isinstance(shown, bool):
        return "true" if shown else "false"
    if isinstance(shown, list | dict):
        return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)
    return str(shown)


def to_csv(result: QueryResult) -> Iterator[str]:
    """The result as CSV lines (header first), RFC 4180: CRLF line ends, quotes doubled.

    NULL is an empty field; lists and structs are JSON text; other values as in
    :func:`jsonable`. One line is built at a time, so it can be streamed.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def line(fields: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(fields)
        return buffer.getvalue()

    yield line(list(result.columns))
    for row in result.rows:
        yield line([_cell(v) for v in row])

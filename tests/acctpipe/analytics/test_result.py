"""Results as JSON and CSV: every DuckDB type has one documented JSON form."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from acctpipe.analytics import QueryResult, SharedStore, jsonable, run_readonly, to_csv
from acctpipe.eventstore import Store


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[SharedStore]:
    """An empty events store, read through a SharedStore."""
    store = Store.open(tmp_path / "empty.duckdb")
    yield SharedStore(store)
    store.close()


@pytest.mark.slow
def test_every_duckdb_type_comes_back_json_safe(shared: SharedStore) -> None:
    """Timestamps, dates, decimals, UUIDs, blobs, intervals, lists, structs and maps all dump."""
    result = run_readonly(
        shared,
        "SELECT TIMESTAMPTZ '2026-11-25 07:00:00+02' AS tz, TIMESTAMP '2026-11-25 07:00' AS ts,"
        " DATE '2026-11-25' AS d, TIME '07:30:00' AS t, 1.50::DECIMAL(5, 2) AS dec,"
        " 12::DECIMAL(5, 0) AS whole, '4b4bfb5c-8b7e-4f5e-9a43-1f4ba2a1f7aa'::UUID AS u,"
        " '\\x00\\xFFab'::BLOB AS b, INTERVAL 90 MINUTES AS i, [1, 2] AS l,"
        " {'k': [TIMESTAMPTZ '2026-11-25 00:00:00+00']} AS s, MAP {'a': 1} AS m,"
        " 'nan'::DOUBLE AS nan, '-inf'::DOUBLE AS ninf, NULL AS nothing, true AS yes,"
        " 170141183460469231731687303715884105727::HUGEINT AS huge",
    )
    row = dict(zip(result.columns, result.json_rows()[0], strict=True))
    assert row == {
        "tz": "2026-11-25T05:00:00+00:00",
        "ts": "2026-11-25T07:00:00",
        "d": "2026-11-25",
        "t": "07:30:00",
        "dec": 1.5,
        "whole": 12,
        "u": "4b4bfb5c-8b7e-4f5e-9a43-1f4ba2a1f7aa",
        "b": "AP9hYg==",
        "i": 5400.0,
        "l": [1, 2],
        "s": {"k": ["2026-11-25T00:00:00+00:00"]},
        "m": {"a": 1},
        "nan": "NaN",
        "ninf": "-Infinity",
        "nothing": None,
        "yes": True,
        "huge": 2**127 - 1,
    }
    json.dumps(result.as_dict(), allow_nan=False)


def test_jsonable_handles_plain_python_values() -> None:
    """The conversions hold for values built in Python, not only those DuckDB returns."""
    plus_two = timezone(timedelta(hours=2))
    assert jsonable(datetime(2026, 1, 1, 2, 0, tzinfo=plus_two)) == "2026-01-01T00:00:00+00:00"
    assert jsonable(date(2026, 1, 1)) == "2026-01-01"
    assert jsonable(time(1, 2, 3)) == "01:02:03"
    assert jsonable(Decimal("1E+2")) == 100
    assert jsonable(Decimal("NaN")) == "NaN"
    assert jsonable(UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert jsonable(float("inf")) == "Infinity"
    assert jsonable((1, {"a": b"\x01"})) == [1, {"a": "AQ=="}]
    assert jsonable({1: "x"}) == {"1": "x"}
    assert jsonable(Path("/x")) == "/x"


def test_as_dict_reports_the_shape() -> None:
    """The JSON form carries columns, types, rows, the row count and the truncation flag."""
    result = QueryResult(["a"], ["INTEGER"], [(1,), (2,)], True, 1.23456)
    assert result.as_dict() == {
        "columns": ["a"],
        "types": ["INTEGER"],
        "rows": [[1], [2]],
        "row_count": 2,
        "truncated": True,
        "elapsed_ms": 1.235,
    }


def test_csv_is_rfc_4180_and_round_trips() -> None:
    """CSV lines end in CRLF, quote commas, quotes and newlines, and parse back to the values."""
    at = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    result = QueryResult(
        ["diag", "n", "at", "tags", "missing", "ok"],
        ["VARCHAR", "BIGINT", "TIMESTAMPTZ", "VARCHAR[]", "VARCHAR", "BOOLEAN"],
        [
            ('smtp;550 5.7.1 "spam", see\nhttps://x', 3, at, ["a", "b"], None, True),
            ("plain", 0, at, [], None, False),
        ],
        False,
        0.0,
    )
    lines = list(to_csv(result))
    assert lines[0] == "diag,n,at,tags,missing,ok\r\n"
    assert lines[1].startswith('"smtp;550 5.7.1 ""spam"", see\nhttps://x",3,')
    assert all(line.endswith("\r\n") for line in lines)
    parsed = list(csv.reader(io.StringIO("".join(lines), newline="")))
    assert parsed == [
        ["diag", "n", "at", "tags", "missing", "ok"],
        [
            'smtp;550 5.7.1 "spam", see\nhttps://x',
            "3",
            "2026-11-25T07:00:00+00:00",
            '["a","b"]',
            "",
            "true",
        ],
        ["plain", "0", "2026-11-25T07:00:00+00:00", "[]", "", "false"],
    ]


def test_csv_text_cells_never_start_a_formula() -> None:
    """A text value or column name starting with = + - @ is written as quoted text behind a
    single quote (OWASP), while numbers, negative ones included, stay numbers."""
    result = QueryResult(
        ["=x", "rcpt", "n", "f"],
        ["VARCHAR", "VARCHAR", "BIGINT", "DOUBLE"],
        [("@a", "=cmd|'calc'!A0@example.com", -3, -1.5)],
        False,
        0.0,
    )
    assert list(to_csv(result)) == [
        '"\'=x",rcpt,n,f\r\n',
        "\"'@a\",\"'=cmd|'calc'!A0@example.com\",-3,-1.5\r\n",
    ]


def test_csv_of_an_empty_result_is_its_header() -> None:
    """No rows still yields the header line."""
    assert list(to_csv(QueryResult(["a", "b"], ["INTEGER", "INTEGER"], [], False, 0.0))) == [
        "a,b\r\n"
    ]

"""Read-only SQL over the events database, bounded in rows and time.

:func:`run_readonly` accepts exactly one SELECT (DuckDB's ``DESCRIBE``,
``SUMMARIZE`` and ``SHOW TABLES`` are SELECTs too) and refuses everything
else with a reason (:class:`SqlRefusedError`). What a SELECT may read is
checked on DuckDB's own parse tree (see :mod:`acctpipe.analytics._guard`):
the tables and views of the events database, CTEs, and computed rows — never
a file, another database, a sequence or a setting.

The query runs on a connection from the :class:`~acctpipe.analytics.source.EventSource`
in a worker thread; at most ``max_rows + 1`` rows are fetched (a streaming
result, so a huge one is never materialised) and the query is interrupted
after ``timeout`` seconds (:class:`SqlTimeoutError`). DuckDB errors become a
:class:`SqlError` carrying DuckDB's first line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import duckdb

from acctpipe.analytics._guard import (
    ALLOWED_TABLE_FUNCTIONS,
    DENIED_FUNCTIONS,
    Catalog,
    check_select,
)
from acctpipe.analytics.errors import SqlError, SqlRefusedError, SqlTimeoutError
from acctpipe.analytics.result import QueryResult, jsonable, to_csv
from acctpipe.analytics.source import EventSource

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "DENIED_FUNCTIONS",
    "MAX_SQL_LENGTH",
    "QueryResult",
    "SqlError",
    "SqlRefusedError",
    "SqlTimeoutError",
    "check_readonly",
    "execute_bounded",
    "jsonable",
    "run_readonly",
    "to_csv",
]

MAX_SQL_LENGTH: Final = 100_000
"""Longest query text accepted, in characters."""

# After interrupt() a query stops at its next check, normally within milliseconds;
# this only bounds how long we wait for a stuck one before giving the thread up.
_INTERRUPT_GRACE = 10.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_readonly(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Return the one statement of ``sql`` if it may run on ``conn``; else raise.

    Raises :class:`SqlRefusedError` with the reason: not exactly one statement,
    not a SELECT, or a SELECT that reads something other than the events
    database's tables and views.
    """
    if len(sql) > MAX_SQL_LENGTH:
        raise SqlRefusedError(f"the query is longer than {MAX_SQL_LENGTH} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError(_first_line(exc)) from exc
    if not statements:
        raise SqlRefusedError("the query is empty")
    if len(statements) > 1:
        raise SqlRefusedError(
            f"exactly one statement is allowed, got {len(statements)}: remove the extra `;`"
        )
    statement = statements[0]
    try:
        kind = statement.type
    except ValueError as exc:  # a statement type this duckdb module has no name for
        raise SqlRefusedError(f"unsupported statement: {_first_line(exc)}") from exc
    if kind != duckdb.StatementType.SELECT:
        raise SqlRefusedError(
            f"only SELECT is allowed, not {kind.name}: the SQL endpoint is read-only"
        )
    text = statement.query
    check_select(text, Catalog.of(conn))
    return text


def execute_bounded(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    parameters: Sequence[object] | Mapping[str, object] = (),
    *,
    max_rows: int,
    timeout: float,
) -> QueryResult:
    """Run ``sql`` on ``conn`` in a worker thread: ``max_rows`` rows at most, ``timeout`` s.

    No validation here: callers pass trusted SQL (the reports) or SQL that
    :func:`check_readonly` accepted. ``conn`` must not be used by another thread
    meanwhile.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            bound = dict(parameters) if isinstance(parameters, Mapping) else list(parameters)
            result = conn.execute(sql, bound)
            description = result.description or []
            rows = result.fetchmany(max_rows + 1)
            outcome["columns"] = [str(d[0]) for d in description]
            outcome["types"] = [str(d[1]) for d in description]
            outcome["rows"] = rows
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=work, name="acctpipe-sql", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        conn.interrupt()
        worker.join(_INTERRUPT_GRACE)
        raise SqlTimeoutError(timeout)
    elapsed_ms = (time.perf_counter() - started) * 1000
    error = outcome.get("error")
    if isinstance(error, duckdb.InterruptException):
        raise SqlTimeoutError(timeout) from error
    if isinstance(error, duckdb.Error):
        raise SqlError(_first_line(error)) from error
    if error is not None:
        raise error
    rows: list[tuple[Any, ...]] = outcome["rows"]
    return QueryResult(
        columns=outcome["columns"],
        types=outcome["types"],
        rows=rows[:max_rows],
        truncated=len(rows) > max_rows,
        elapsed_ms=elapsed_ms,
    )


def run_readonly(
    source: EventSource, sql: str, *, max_rows: int = 10_000, timeout: float = 10.0
) -> QueryResult:
    """Run one read-only SELECT from ``source``: at most ``max_rows`` rows, ``timeout`` s.

    Raises :class:`SqlRefusedError` (not allowed, with the reason),
    :class:`SqlTimeoutError`, :class:`SqlError` (DuckDB's first line) — all
    input errors — or :class:`~acctpipe.analytics.errors.EventsUnavailableError`
    when the source cannot be opened.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    with source.connect() as conn:
        statement = check_readonly(conn, sql)
        return execute_bounded(conn, statement, max_rows=max_rows, timeout=timeout)

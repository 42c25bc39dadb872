"""Read-only SQL over the events database, bounded in rows, bytes and time.

:func:`run_readonly` accepts exactly one SELECT (DuckDB's ``DESCRIBE``,
``SUMMARIZE`` and ``SHOW TABLES`` are SELECTs too) and refuses everything
else with a reason (:class:`SqlRefusedError`). What a SELECT may read is
checked on DuckDB's own parse tree (see :mod:`acctpipe.analytics._guard`):
the tables and views of the events database, CTEs, and computed rows — never
a file, another database, a sequence or a setting.

:func:`run_readonly` never runs user SQL in this process: it hands it to a
:class:`~acctpipe.analytics.sandbox.SqlSandbox` (worker processes with their
own locked-down DuckDB over a snapshot of the source, a few seconds old at
most), where the guard runs again before the query. :func:`execute_bounded`
runs OUR SQL (the named reports) on a connection of the source itself: at most
``max_rows + 1`` rows are fetched and the query is interrupted after
``timeout`` seconds (:class:`SqlTimeoutError`). DuckDB errors become a
:class:`SqlError` carrying DuckDB's first line.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import duckdb

from acctpipe.analytics._guard import (
    ALLOWED_TABLE_FUNCTIONS,
    DENIED_FUNCTIONS,
    MAX_SQL_LENGTH,
    check_readonly,
)
from acctpipe.analytics.errors import SqlError, SqlRefusedError, SqlTimeoutError
from acctpipe.analytics.result import QueryResult, jsonable, to_csv
from acctpipe.analytics.sandbox import SqlSandbox
from acctpipe.analytics.source import SnapshotSource

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "DEFAULT_MAX_BYTES",
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
    "sandbox_for",
    "to_csv",
]

DEFAULT_MAX_BYTES: Final = 16 << 20
"""Bytes of result rows (as JSON) returned at most, unless the caller says otherwise."""

# After interrupt() a query stops at its next check, normally within milliseconds;
# this only bounds how long we wait for a stuck one before giving the thread up.
_INTERRUPT_GRACE = 10.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


_SANDBOXES: weakref.WeakKeyDictionary[SnapshotSource, SqlSandbox] = weakref.WeakKeyDictionary()
_SANDBOXES_LOCK = threading.Lock()


def sandbox_for(source: SnapshotSource) -> SqlSandbox:
    """The default :class:`SqlSandbox` of ``source`` (made on first use, default limits)."""
    with _SANDBOXES_LOCK:
        found = _SANDBOXES.get(source)
        if found is None:
            # Through a weak proxy: the sandbox must not keep its source (the dict's key)
            # alive; when the source goes, so do its sandbox and snapshots.
            proxy = cast("SnapshotSource", weakref.proxy(source))
            found = _SANDBOXES[source] = SqlSandbox(proxy)
            weakref.finalize(source, found.close)
        return found


def run_readonly(
    source: SnapshotSource,
    sql: str,
    *,
    max_rows: int = 10_000,
    timeout: float = 10.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> QueryResult:
    """Run one read-only SELECT over a snapshot of ``source``, in the SQL sandbox.

    At most ``max_rows`` rows and ``max_bytes`` bytes of rows (as JSON), ``timeout``
    seconds, in :func:`sandbox_for` ``(source)``. The result's
    ``snapshot_at`` says how current its data is. Raises :class:`SqlRefusedError`
    (not allowed, with the reason), :class:`SqlTimeoutError`, :class:`SqlError`
    (DuckDB's first line) — all input errors — or
    :class:`~acctpipe.analytics.errors.EventsUnavailableError` when the source
    cannot be read.
    """
    return sandbox_for(source).run(sql, max_rows=max_rows, max_bytes=max_bytes, timeout=timeout)

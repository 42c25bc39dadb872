"""Throttle history for the analytics API, in the same result shape as the DuckDB reports.

Throttle decisions live in the SQL store (table ``throttle_decisions``,
SQLite or PostgreSQL), not in DuckDB; this reads them with SQLAlchemy Core.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, select

from acctpipe.analytics.errors import ReportParameterError
from acctpipe.analytics.result import QueryResult
from acctpipe.sqlstore.schema import throttle_decisions

__all__ = ["THROTTLE_COLUMNS", "throttle_history"]

_T = throttle_decisions.c

THROTTLE_COLUMNS: Final = (
    ("id", "BIGINT"),
    ("decided_at", "TIMESTAMP WITH TIME ZONE"),
    ("expires_at", "TIMESTAMP WITH TIME ZONE"),
    ("queue", "VARCHAR"),
    ("vmta", "VARCHAR"),
    ("action", "VARCHAR"),
    ("rule", "VARCHAR"),
    ("rate", "DOUBLE"),
    ("max_smtp_out", "INTEGER"),
    ("detail", "VARCHAR"),
    ("evidence", "JSON"),
    ("event_ids", "JSON"),
)
"""The result's columns and their types (DuckDB's names, as in the other results)."""

MAX_LIMIT: Final = 10_000


def throttle_history(
    engine: Engine,
    *,
    queue: str | None = None,
    vmta: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> QueryResult:
    """Throttle decisions, newest first: all, or one queue (and vmta), from ``since`` on.

    Raises :class:`ReportParameterError` for a ``limit`` outside 1..10000 or a
    naive ``since``.
    """
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ReportParameterError("limit", f"must be between 1 and {MAX_LIMIT}, got {limit}")
    if since is not None and since.tzinfo is None:
        raise ReportParameterError("since", "must carry a time zone")
    columns = [name for name, _ in THROTTLE_COLUMNS]
    query = select(*(_T[name] for name in columns))
    if queue is not None:
        query = query.where(_T.queue == queue)
    if vmta is not None:
        query = query.where(_T.vmta == vmta)
    if since is not None:
        query = query.where(_T.decided_at >= since)
    query = query.order_by(_T.decided_at.desc(), _T.id.desc()).limit(limit + 1)
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query)]
    return QueryResult(
        columns=columns,
        types=[kind for _, kind in THROTTLE_COLUMNS],
        rows=rows[:limit],
        truncated=len(rows) > limit,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )

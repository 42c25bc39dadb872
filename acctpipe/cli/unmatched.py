"""``acctpipe rules unmatched``: the replies no rule recognised, most frequent first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console

from acctpipe.analytics.unmatched import COLUMNS, unmatched
from acctpipe.cli.render import OutputFormat, write_rows
from acctpipe.eventstore import Store
from classifiers import RuleTable, default_table

__all__ = ["run_unmatched"]


def run_unmatched(
    db: Path,
    table: RuleTable | None,
    *,
    since: datetime | None,
    limit: int,
    format: OutputFormat,
    err: Console,
) -> int:
    """List the unmatched groups of ``db`` (read-only); say so on ``err`` when there are none."""
    fallbacks = (table if table is not None else default_table()).fallback_ids
    store = Store.open(db, read_only=True)
    try:
        groups = unmatched(store.conn, fallbacks, since=since, limit=limit)
    finally:
        store.close()
    if not groups:
        err.print("no unmatched diagnostics: every failure was decided by a specific rule")
        return 0
    write_rows(COLUMNS, [g.row() for g in groups], format=format, limit=limit)
    return 0

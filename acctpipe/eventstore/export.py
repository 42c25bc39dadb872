"""Parquet export of the events table, partitioned by day (UTC).

A Parquet directory is how analysts read while a tailer holds the DuckDB file:
DuckDB allows one writing process per database file, so other processes query
the export (or a snapshot) instead. The export is written to a temporary
sibling directory and swapped in with a rename, so readers never see half of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from acctpipe.eventstore.store import Store

__all__ = ["export_parquet"]

_SELECT = "SELECT *, CAST(timezone('UTC', time_logged) AS DATE) AS day FROM events"


def export_parquet(store: Store, out_dir: Path, *, node: str | None = None) -> int:
    """Write ``events`` to ``out_dir/day=YYYY-MM-DD/*.parquet``; return the rows written.

    With ``node``, every row also carries a ``node`` column naming the node that
    logged it, so one query can read the exports of many nodes side by side.
    """
    out_dir = out_dir.resolve()
    staging = out_dir.with_name(out_dir.name + ".tmp")
    old = out_dir.with_name(out_dir.name + ".old")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    row = store.conn.execute("SELECT count(*) FROM events").fetchone()
    count = int(row[0]) if row else 0
    target = str(staging).replace("'", "''")
    # COPY takes no parameter for its target; the path's quotes are doubled above.
    select = _SELECT
    if node is not None:
        name = node.replace("'", "''")  # a literal: COPY takes no parameters
        select = select.replace(" AS day FROM", f" AS day, '{name}' AS node FROM")
    copy = f"COPY ({select}) TO '{target}' (FORMAT parquet, PARTITION_BY (day))"
    store.conn.execute(copy)
    if count == 0:
        staging.mkdir(exist_ok=True)
    if out_dir.exists():
        out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return count

"""Parquet export: how other processes read while a tailer holds the DuckDB file."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from acctpipe.eventstore import Store, export_parquet
from acctpipe.ingest import Loader
from tests.acctpipe._acct import header, rows


def test_export_writes_every_event_partitioned_by_day(tmp_path: Path) -> None:
    """The export holds every row, in day=YYYY-MM-DD folders, and re-export replaces it."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 12))
    store = Store.open(tmp_path / "db.duckdb")
    Loader(store).load(tmp_path / "acct.csv")
    out = tmp_path / "parquet"
    assert export_parquet(store, out) == 12
    assert export_parquet(store, out) == 12
    store.close()
    assert [p.name for p in out.iterdir()] == ["day=2026-11-25"]
    frame = pl.read_parquet(out / "**" / "*.parquet")
    assert frame.height == 12
    assert not (tmp_path / "parquet.tmp").exists()


def test_exports_of_many_nodes_query_as_one(tmp_path: Path) -> None:
    """Two nodes' exports, each tagged with its node, read as one table by DuckDB."""
    import duckdb

    for node in ("node-a", "node-b"):
        (tmp_path / f"{node}.csv").write_bytes(header() + rows(0, 5))
        store = Store.open(tmp_path / f"{node}.duckdb")
        Loader(store).load(tmp_path / f"{node}.csv")
        export_parquet(store, tmp_path / "warehouse" / node, node=node)
        store.close()
    pattern = str(tmp_path / "warehouse" / "*" / "day=*" / "*.parquet")
    with duckdb.connect() as conn:
        counts = conn.execute(
            "SELECT node, count(*) FROM read_parquet(?, hive_partitioning = true)"
            " GROUP BY node ORDER BY node",
            [pattern],
        ).fetchall()
    assert counts == [("node-a", 5), ("node-b", 5)]

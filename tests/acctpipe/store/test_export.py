"""Parquet export: how other processes read while a tailer holds the DuckDB file."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from acctpipe.ingest import Loader
from acctpipe.store import Store, export_parquet
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

"""The DuckDB schema is an API: its DDL is snapshotted and migrations are versioned."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from acctpipe.eventstore import MIGRATIONS, SCHEMA_VERSION, Store, migrate
from mta.errors import StoreError
from tests._paths import ROOT as REPO

SNAPSHOT = REPO / "tests" / "snapshots" / "duckdb-schema.sql"


def _ddl(conn: duckdb.DuckDBPyConnection) -> str:
    tables = conn.execute(
        "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    views = conn.execute(
        "SELECT sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
        " ORDER BY view_name"
    ).fetchall()
    return "\n\n".join(str(s) for (s,) in [*tables, *views]) + "\n"


def test_ddl_matches_the_snapshot(tmp_path: Path) -> None:
    """The tables and views analysts query are exactly the snapshotted DDL."""
    store = Store.open(tmp_path / "db.duckdb")
    ddl = _ddl(store.conn)
    store.close()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(ddl, encoding="utf-8")
    assert ddl == SNAPSHOT.read_text(encoding="utf-8")


def test_migrate_is_idempotent_and_versioned(tmp_path: Path) -> None:
    """A new database is migrated to the latest version once; reopening changes nothing."""
    conn = duckdb.connect(str(tmp_path / "db.duckdb"))
    assert migrate(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION == len(MIGRATIONS)
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database written by a newer acctpipe is refused with a clear error, not altered."""
    conn = duckdb.connect(str(tmp_path / "db.duckdb"))
    migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer than this acctpipe"):
        migrate(conn)


def test_read_only_open_of_a_missing_database_is_an_error(tmp_path: Path) -> None:
    """Opening a missing file read-only names the path instead of creating it."""
    with pytest.raises(StoreError, match="no such database"):
        Store.open(tmp_path / "nope.duckdb", read_only=True)
    assert not (tmp_path / "nope.duckdb").exists()


def test_views_answer_on_ingested_rows(tmp_path: Path) -> None:
    """Every documented view can be queried on a fresh store."""
    store = Store.open(tmp_path / "db.duckdb")
    for view in (
        "daily_domain_stats",
        "daily_vmta_stats",
        "top_bounce_diagnostics",
        "complaints",
        "ingest_lag",
    ):
        columns, rows = store.query(f"SELECT * FROM {view}")
        assert columns
        assert rows == []
    store.close()

"""`acctpipe ingest` and `acctpipe sql` as a user runs them: summaries, errors, help."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests._paths import SNAPSHOTS as TEST_SNAPSHOTS
from tests.acctpipe._acct import header, rows
from tests.acctpipe._cli import assert_help_snapshot, run_cli

pytestmark = pytest.mark.slow  # every test here takes over a second

SNAPSHOTS = TEST_SNAPSHOTS


def test_ingest_prints_a_summary_and_is_safe_to_repeat(tmp_path: Path) -> None:
    """ingest reports rows, quarantined and classes; a second run adds nothing."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 8) + b"zz,broken\r\n")
    db = str(tmp_path / "db.duckdb")
    first = run_cli("ingest", "--db", db, str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "8 rows from 1 file(s), 1 quarantined" in first.stdout
    assert "by type:  b=4, d=2, t=2" in first.stdout
    assert "hard=" in first.stdout
    again = run_cli("ingest", "--db", db, str(tmp_path))
    assert "0 rows" in again.stdout
    count = run_cli("sql", "--db", db, "SELECT count(*) AS n FROM events")
    assert count.returncode == 0, count.stderr
    assert " 8 " in count.stdout


def test_sql_errors_are_one_line(tmp_path: Path) -> None:
    """A bad query or a missing database is one error line and exit 1, not a traceback."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 1))
    db = str(tmp_path / "db.duckdb")
    run_cli("ingest", "--db", db, str(tmp_path))
    bad = run_cli("sql", "--db", db, "SELECT nope FROM events")
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.startswith(f"acctpipe: error: {db}: Binder Error")
    missing = run_cli("sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert missing.returncode == 1
    assert "no such database" in missing.stderr


def test_sql_connection_is_read_only(tmp_path: Path) -> None:
    """`acctpipe sql` cannot change the store."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 1))
    db = str(tmp_path / "db.duckdb")
    run_cli("ingest", "--db", db, str(tmp_path))
    proc = run_cli("sql", "--db", db, "DELETE FROM events")
    assert proc.returncode == 1
    assert "read-only" in proc.stderr


@pytest.mark.parametrize("command", ["ingest", "tail", "sql"])
def test_help_output_is_stable(command: str) -> None:
    """`--help` for each ingest command matches its snapshot (users and docs depend on it)."""
    assert_help_snapshot([command], f"help-{command}.txt")


LITERAL = "root:x:0:0 [red]x[/red] :thumbs_up: [bold]"


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store with one ingested row (the queries below select literals from it)."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 1))
    path = str(tmp_path / "db.duckdb")
    assert run_cli("ingest", "--db", path, str(tmp_path)).returncode == 0
    return path


def test_sql_prints_values_literally(db: str) -> None:
    """A value is printed as it is: no emoji for :x:, no markup for [red] (root:x:0:0 stays)."""
    proc = run_cli("sql", "--db", db, f"SELECT '{LITERAL}' AS v")
    assert proc.returncode == 0, proc.stderr
    assert LITERAL in proc.stdout


def test_sql_piped_is_never_truncated(db: str) -> None:
    """Piped, the table has every row and every character of every column."""
    long = "y" * 300
    query = f"SELECT range AS n, '{long}' AS a, 'last column' AS b FROM range(250)"
    proc = run_cli("sql", "--db", db, query)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if long in line]
    assert len(lines) == 250
    assert all("last column" in line for line in lines)
    assert "rows, first" not in proc.stderr


def test_sql_writes_csv_json_and_parquet(db: str, tmp_path: Path) -> None:
    """--format csv (spreadsheet-safe), json (objects) and parquet (-o FILE) carry every row."""
    query = "SELECT range AS n, '=1+2' AS f, NULL AS z FROM range(3)"
    as_csv = run_cli("sql", "--db", db, "-f", "csv", "-o", "-", query)
    assert as_csv.stdout.splitlines() == ["n,f,z", '0,"\'=1+2",', '1,"\'=1+2",', '2,"\'=1+2",']
    as_json = run_cli("sql", "--db", db, "--format", "json", query)
    assert json.loads(as_json.stdout) == [{"n": i, "f": "=1+2", "z": None} for i in range(3)]
    target = tmp_path / "q.parquet"
    as_parquet = run_cli("sql", "--db", db, "-f", "parquet", "-o", str(target), query)
    assert as_parquet.returncode == 0, as_parquet.stderr
    assert pl.read_parquet(target)["n"].to_list() == [0, 1, 2]
    limited = run_cli("sql", "--db", db, "-f", "csv", "--limit", "2", query)
    assert len(limited.stdout.splitlines()) == 3
    assert "3 rows, first 2 shown" in limited.stderr

"""`acctpipe ingest` and `acctpipe sql` as a user runs them: summaries, errors, help."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acctpipe._acct import header, rows
from tests.acctpipe._cli import assert_help_snapshot, run_cli

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


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

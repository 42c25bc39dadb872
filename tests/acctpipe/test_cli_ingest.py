"""`acctpipe ingest` and `acctpipe sql` as a user runs them: summaries, errors, help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acctpipe._acct import header, rows

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "acctpipe.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_ingest_prints_a_summary_and_is_safe_to_repeat(tmp_path: Path) -> None:
    """ingest reports rows, quarantined and classes; a second run adds nothing."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 8) + b"zz,broken\r\n")
    db = str(tmp_path / "db.duckdb")
    first = _run("ingest", "--db", db, str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "8 rows from 1 file(s), 1 quarantined" in first.stdout
    assert "by type:  b=4, d=2, t=2" in first.stdout
    assert "hard=" in first.stdout
    again = _run("ingest", "--db", db, str(tmp_path))
    assert "0 rows" in again.stdout
    count = _run("sql", "--db", db, "SELECT count(*) AS n FROM events")
    assert count.returncode == 0, count.stderr
    assert " 8 " in count.stdout


def test_sql_errors_are_one_line(tmp_path: Path) -> None:
    """A bad query or a missing database is one error line and exit 1, not a traceback."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 1))
    db = str(tmp_path / "db.duckdb")
    _run("ingest", "--db", db, str(tmp_path))
    bad = _run("sql", "--db", db, "SELECT nope FROM events")
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.startswith(f"acctpipe: error: {db}: Binder Error")
    missing = _run("sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert missing.returncode == 1
    assert "no such database" in missing.stderr


def test_sql_connection_is_read_only(tmp_path: Path) -> None:
    """`acctpipe sql` cannot change the store."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 1))
    db = str(tmp_path / "db.duckdb")
    _run("ingest", "--db", db, str(tmp_path))
    proc = _run("sql", "--db", db, "DELETE FROM events")
    assert proc.returncode == 1
    assert "read-only" in proc.stderr


@pytest.mark.parametrize("command", ["ingest", "tail", "sql"])
def test_help_output_is_stable(command: str) -> None:
    """`--help` for each ingest command matches its snapshot (users and docs depend on it)."""
    proc = _run(command, "--help")
    assert proc.returncode == 0
    snap = SNAPSHOTS / f"help-{command}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snap.write_text(proc.stdout, encoding="utf-8")
    assert proc.stdout == snap.read_text(encoding="utf-8")

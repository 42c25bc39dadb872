"""`acctpipe demo` runs end to end on the embedded defaults and leaves its files behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from acctpipe.cli import main
from mta.acct import Row, read_accounting
from mta.config import load_config


def test_demo_runs_and_leaves_a_valid_config_and_accounting_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo checks its config, writes and reads back an accounting file, losing nothing."""
    assert main(["demo", "--data-dir", str(tmp_path), "--rows", "500"]) == 0
    out = capsys.readouterr().out
    assert "every byte accounted for" in out
    assert "goes to quarantine" in out
    assert "run 2: 0 rows committed (nothing new: never doubles)" in out
    assert (tmp_path / "acctpipe.duckdb").is_file()
    config = load_config(tmp_path / "acctpipe.conf")
    assert config.warnings == ()
    rows = [e for e in read_accounting(tmp_path / "acct-demo.csv") if isinstance(e, Row)]
    assert len(rows) == 500

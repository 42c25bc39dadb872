"""benchmarks/suppression runs end to end on a small list and finds every hit it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import suppression


def test_the_suppression_benchmark_runs_small(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rows.json"
    assert suppression.main(["--entries", "20000", "--lookups", "2000", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bytes/address" in printed
    assert "checks per CPU second" in printed
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == 3

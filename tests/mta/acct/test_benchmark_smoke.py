"""The codec benchmark still runs (timings are printed, never asserted)."""

from __future__ import annotations

import pytest

from benchmarks.codec import main


def test_benchmark_runs_on_a_small_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m benchmarks.codec --rows 1000` prints both readers and their ratio."""
    assert main(["--rows", "1000", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "read_accounting" in out
    assert "polars.read_csv" in out
    assert "ratio ours/polars" in out

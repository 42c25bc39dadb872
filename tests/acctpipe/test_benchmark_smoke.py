"""The ingest and tail-latency benchmarks still run (figures printed, never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import ingest, tail_latency

pytestmark = pytest.mark.slow  # every test here takes over a second


def test_ingest_benchmark_runs_on_a_small_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m benchmarks.ingest --rows 500` prints both loaders and their ratio."""
    assert ingest.main(["--rows", "500"]) == 0
    out = capsys.readouterr().out
    assert "acctpipe ingest" in out
    assert "duckdb read_csv" in out
    assert "ratio ours/duckdb" in out


def test_latency_benchmark_runs_briefly(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m benchmarks.tail_latency` prints latency percentiles for a short run."""
    assert tail_latency.main(["--rate", "500", "--seconds", "1"]) == 0
    assert "p99" in capsys.readouterr().out

"""The reply-classification benchmark still runs (figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests._paths import ROOT


@pytest.mark.slow
def test_benchmark_runs_on_a_small_column() -> None:
    """`python -m benchmarks.classify_replies --rows 2000` prints both tables and exits 0.

    It runs in a child process because the benchmark pins POLARS_MAX_THREADS before
    importing polars, which must not leak into the test process.
    """
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.classify_replies",
            "--rows",
            "2000",
            "--repeat",
            "1",
            "--sample",
            "100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "POLARS_MAX_THREADS=" in done.stdout
    assert "realistic column" in done.stdout
    assert "every diagnostic distinct" in done.stdout
    for path in ("vectorised classify_frame", "scalar classify_diag, uncached", "bare re loop"):
        assert done.stdout.count(path) == 2

"""`benchmarks.run_all`: every benchmark in one table (figures printed, never asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run_all import BENCHMARKS, Benchmark, markdown, run_benchmark
from tests._paths import ROOT


@pytest.mark.slow
def test_quick_run_prints_the_table_and_writes_markdown(tmp_path: Path) -> None:
    """`run_all --quick --only codec` prints the table and writes Markdown: machine, ratio."""
    md, rows = tmp_path / "table.md", tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--quick", "--only", "codec",
         "--markdown", str(md), "--json", str(rows)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "read_accounting" in done.stdout
    assert "polars.read_csv" in done.stdout
    text = md.read_text(encoding="utf-8")
    assert text.startswith("Machine: ")
    assert re.search(r"\d+ cores · .* GiB RAM · .*Python 3\.\d+.* UTC", text)
    row = re.search(
        r"^\| codec \| read_accounting \| [\d,]+ rows/s \| polars\.read_csv: .*$", text, re.M
    )
    assert row is not None, text
    ratio = row.group(0).split(" | ")[4]
    assert float(ratio) > 0
    assert "`python -m benchmarks.codec --rows 20000 --repeat 1`" in text
    (data,) = json.loads(rows.read_text(encoding="utf-8"))
    assert data["benchmark"] == "codec"
    assert data["ratio"] > 0


def test_a_failing_benchmark_is_a_row_with_its_exit_code_and_last_stderr_line() -> None:
    """A benchmark that exits non-zero gives a FAILED row naming the exit code and the error."""
    broken = Benchmark("accuracy", "--no-such-option", "--no-such-option")
    outcome = run_benchmark(broken, quick=True, timeout=60)
    assert outcome.rows == []
    assert outcome.error is not None
    assert outcome.error.startswith("exit 2: ")
    assert "unrecognized arguments: --no-such-option" in outcome.error
    text = markdown([outcome], "test machine", 1.0, "python -m benchmarks.run_all")
    assert "| accuracy | FAILED: exit 2: " in text
    assert "`python -m benchmarks.accuracy --no-such-option`" in text


def test_a_benchmark_missing_from_the_checkout_is_skipped_not_failed() -> None:
    """A listed module that is not there yet is a 'skipped' row and does not fail the run."""
    outcome = run_benchmark(Benchmark("not_written_yet", "", ""), quick=False, timeout=60)
    assert outcome.error is None
    assert outcome.skipped == "benchmarks.not_written_yet is not in this checkout"


def test_every_benchmark_module_is_listed() -> None:
    """Every benchmark module in benchmarks/ (not the helpers) is run by run_all."""
    modules = {
        p.stem for p in (ROOT / "benchmarks").glob("*.py")
        if not p.stem.startswith("_") and p.stem != "run_all"
    }  # fmt: skip
    assert modules <= {b.name for b in BENCHMARKS}

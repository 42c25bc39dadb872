"""The JSON rows benchmarks write with ``--json`` (figures are never asserted, only their shape)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks import codec
from benchmarks._report import Figure, Row, Target, read_rows, write_figures


def test_ratio_is_the_figure_over_its_ceiling() -> None:
    """A row's ratio is value / ceiling, and a ratio target is judged on it."""
    figure = Figure("ours", 50.0, "rows/s", "theirs", 200.0, Target(">=", 0.5, of="ratio"))
    row = Row.of("demo", "python -m benchmarks.demo", figure)
    assert row.ratio == pytest.approx(0.25)
    assert row.target == "ratio ≥ 0.5"
    assert row.met is False


def test_a_figure_without_ceiling_or_target_has_no_ratio_or_verdict() -> None:
    """With no ceiling there is no ratio, and with no target ``met`` is null, not true."""
    row = Row.of("demo", "cmd", Figure("p50", 12.5, "ms"))
    assert (row.ratio, row.target, row.met) == (None, None, None)


@pytest.mark.parametrize(
    ("target", "value", "text", "met"),
    [
        (Target(">=", 200_000), 250_000.0, "≥ 200,000 lookups/s", True),
        (Target("<", 1000), 1000.0, "< 1,000 lookups/s", False),
        (Target("<=", 2.0, of="ratio", note="time"), 1.0, "ratio ≤ 2 (time)", None),
    ],
)
def test_target_text_and_verdict(target: Target, value: float, text: str, met: bool | None) -> None:
    """Targets read like the issues state them, and the bound itself is exclusive for < only."""
    assert target.text("lookups/s") == text
    assert target.is_met(value, None) is met


def test_rows_round_trip_with_the_command_that_reproduces_them(tmp_path: Path) -> None:
    """The command in a row is the benchmark's own command line without ``--json PATH``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demo")
    out = tmp_path / "rows.json"
    write_figures(parser, ["--rows", "10", "--json", str(out)], out, [Figure("x", 1.0, "u")])
    (row,) = read_rows(out)
    assert row.benchmark == "demo"
    assert row.command == "python -m benchmarks.demo --rows 10"


def test_codec_writes_its_figure_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`benchmarks.codec --json PATH` prints its usual table and writes one row with a ratio."""
    out = tmp_path / "codec.json"
    assert codec.main(["--rows", "1000", "--repeat", "1", "--json", str(out)]) == 0
    assert "ratio ours/polars" in capsys.readouterr().out
    (row,) = read_rows(out)
    assert row.benchmark == "codec"
    assert row.ceiling_name == "polars.read_csv"
    assert row.ratio is not None
    assert row.ratio > 0

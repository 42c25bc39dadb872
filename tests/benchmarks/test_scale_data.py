"""`benchmarks._scale_data`: the generated list says truly what a correct import must find."""

from __future__ import annotations

from pathlib import Path

from acctpipe.policy.normalise import normalise_address
from benchmarks._scale_data import write_addresses


def test_the_list_counts_its_distinct_addresses_and_invalid_lines(tmp_path: Path) -> None:
    """Normalised as the store normalises, the lines hold exactly `distinct` addresses,
    the `invalid` lines are refused, and the file has a header and `lines` lines."""
    made = write_addresses(tmp_path / "list.csv", 50_000, seed=7, prefix="t.")
    header, *lines = made.path.read_text(encoding="utf-8").splitlines()
    assert header == "email"
    assert len(lines) == made.lines == 50_000
    keys, refused = set(), 0
    for line in lines:
        try:
            keys.add(normalise_address(line))
        except ValueError:
            refused += 1
    assert refused == made.invalid > 0
    assert len(keys) == made.distinct
    assert 0.005 < 1 - (made.distinct + made.invalid) / made.lines < 0.02  # ~1% duplicates
    assert any(line != line.lower() for line in lines)
    assert any("+" in line for line in lines)


def test_the_same_seed_writes_the_same_file(tmp_path: Path) -> None:
    """The list is reproducible: the same seed and size give the same bytes."""
    a = write_addresses(tmp_path / "a.csv", 5_000, seed=3)
    b = write_addresses(tmp_path / "b.csv", 5_000, seed=3)
    assert a.path.read_bytes() == b.path.read_bytes()

"""flufl.bounce's own sample bounces: we find every address its detectors find.

The samples and their expectation table ship in flufl.bounce's sdist (not its
wheel); scripts/_venv.sh fetches the sdist into the venv. The table is read as
data (a literal list in its test module), never executed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from classifiers import classify_message

SDIST = Path(sys.prefix) / "share" / "flufl-bounce-sdist" / "tests"


def _table() -> list[tuple[str, str, list[bytes], bool]]:
    source = SDIST / "test_detectors.py"
    if not source.is_file():
        return []
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DETECTORS" for t in node.targets
        ):
            rows = ast.literal_eval(node.value)
            assert isinstance(rows, list)
            return rows
    return []


CASES = [row for row in _table() if row[2]]


@pytest.mark.skipif(not CASES, reason="flufl.bounce sdist not fetched (run scripts/test)")
@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_every_address_flufl_finds_we_find(case: tuple[str, str, list[bytes], bool]) -> None:
    """Each address flufl.bounce's table expects is among our recipients for that message."""
    _detector, name, addresses, _temporary = case
    report = classify_message((SDIST / "data" / name).read_bytes())
    found = {r.address.lower() for r in report.recipients}
    assert {a.decode().lower() for a in addresses} <= found, report.reason


def test_the_flufl_table_was_found() -> None:
    """The sdist fetch worked and its table has the ~100 samples we expect."""
    if not CASES:
        pytest.skip("flufl.bounce sdist not fetched (run scripts/test)")
    assert len(CASES) >= 100

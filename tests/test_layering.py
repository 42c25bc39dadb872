"""The package layering of DESIGN.md: classifiers ← mta ← acctpipe, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package → the project packages it may import
ALLOWED = {
    "classifiers": set(),
    "mta": {"classifiers"},
    "acctpipe": {"classifiers", "mta"},
}
PROJECT = set(ALLOWED)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PROJECT


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_point_down_the_design_table(package: str) -> None:
    """A module may import only the packages below its own in DESIGN.md's table."""
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) - ALLOWED[package] - {package}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_every_project_package_is_covered() -> None:
    """Every top-level Python package in the repo is in the layering table."""
    # tests, benchmarks and scripts are tooling on top of every layer, not layers.
    tooling = {"tests", "benchmarks", "scripts"}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - tooling
    assert packages == PROJECT

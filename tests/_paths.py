"""Where the suite's fixed files are, for tests at any depth of the tests/ tree."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA", "MAIL", "ROOT", "SNAPSHOTS"]

ROOT = Path(__file__).resolve().parents[1]
"""The repository: README.md, docs/, the packages."""
DATA = ROOT / "tests" / "data"
"""Test inputs: accounting files, configs, the mail corpus, replies, suppression CSVs."""
MAIL = DATA / "mail"
"""The classified mail corpus, one folder per source (docs/corpus.md)."""
SNAPSHOTS = ROOT / "tests" / "snapshots"
"""Help texts, schemas and OpenAPI documents that are an API (UPDATE_SNAPSHOTS=1 rewrites them)."""

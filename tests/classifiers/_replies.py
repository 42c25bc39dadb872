"""The labelled SMTP reply corpus (tests/data/replies/replies.csv), loaded once."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from tests._paths import ROOT as REPO

REPLIES = REPO / "tests" / "data" / "replies" / "replies.csv"


@dataclass(frozen=True, slots=True)
class Reply:
    """One corpus row: a PowerMTA-style diagnostic, its dsnStatus, and the expected verdict."""

    line: int
    diag: str
    status: str
    category: str
    cls: str
    note: str


@cache
def corpus() -> tuple[Reply, ...]:
    """Every row of the corpus, with its line number in the CSV (for test ids)."""
    with REPLIES.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return tuple(
            Reply(reader.line_num, r["diag"], r["status"], r["category"], r["class"], r["note"])
            for r in reader
        )

"""The golden corpus: every message gets the right kind, recipients, classes and categories.

The table is tests/data/mail/expectations.csv (see the README beside it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest

from classifiers.fault import FAULTS
from classifiers.message import classify_message
from tests._paths import ROOT as REPO

MAIL = REPO / "tests" / "data" / "mail"


@dataclass(frozen=True)
class Expected:
    file: str
    kind: str
    recipients: tuple[tuple[str, str, str, str], ...]
    feedback_type: str
    notes: str


def _item(file: str, item: str) -> tuple[str, str, str, str]:
    """One ``address|class|category|fault`` item, checked for shape."""
    parts = item.split("|")
    assert len(parts) == 4, f"{file}: {item!r} is not address|class|category|fault"
    assert parts[3] in FAULTS, f"{file}: {parts[3]!r} is not a fault ({', '.join(FAULTS)})"
    return parts[0], parts[1], parts[2], parts[3]


def _load() -> list[Expected]:
    with (MAIL / "expectations.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        recipients = tuple(
            _item(row["file"], item) for item in row["recipients"].split(";") if item.strip()
        )
        out.append(Expected(row["file"], row["kind"], recipients, row["feedback_type"],
                            row["notes"]))  # fmt: skip
    return out


CASES = _load()


def test_corpus_table_lists_every_sample() -> None:
    """Every .eml in the corpus has exactly one row in the expectation table."""
    on_disk = {str(p.relative_to(MAIL)) for p in MAIL.rglob("*.eml")}
    assert on_disk == {c.file for c in CASES}
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_message_is_classified_as_expected(case: Expected) -> None:
    """Kind, every recipient (address, class, category, fault) and the feedback type match."""
    report = classify_message((MAIL / case.file).read_bytes())
    got = tuple((r.address, r.cls, r.category, r.fault) for r in report.recipients)
    assert (report.kind, got) == (case.kind, case.recipients), report.reason
    feedback = report.feedback.type if report.feedback else ""
    assert feedback == case.feedback_type
    if report.kind == "unknown":
        assert report.reason

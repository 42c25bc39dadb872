"""The labelled reply corpus: the scalar path classifies every row as labelled.

tests/data/replies/replies.csv has one row per real-format diagnostic (PowerMTA's
``smtp;550 5.1.1 ...`` form, DSN ``X-Postfix;`` forms, qmail and plain texts,
joined and real multi-line replies), the dsnStatus PowerMTA would log beside it (often
empty), the expected category and class, and a note naming the receiver.
"""

from __future__ import annotations

from collections import Counter

import pytest

from classifiers.reply import classify_diag
from classifiers.types import BOUNCE_CATEGORIES
from tests.classifiers._replies import Reply, corpus


def test_the_corpus_is_large_and_covers_every_category_and_class() -> None:
    """At least 300 rows, all 17 categories and the hard/soft/spam/unknown/delivered classes."""
    rows = corpus()
    assert len(rows) >= 300
    assert {r.category for r in rows} == set(BOUNCE_CATEGORIES)
    assert {r.cls for r in rows} == {"hard", "soft", "spam", "unknown", "delivered"}
    assert sum("\n" in r.diag for r in rows) >= 5  # real multi-line replies
    assert sum(" 550-5." in r.diag for r in rows) >= 3  # replies PowerMTA joined on one line
    assert Counter(bool(r.status) for r in rows)[True] >= 20  # rows with a dsnStatus


@pytest.mark.parametrize("reply", corpus(), ids=lambda r: f"line{r.line}-{r.note[:40]}")
def test_scalar_path_classifies_each_row_as_labelled(reply: Reply) -> None:
    """classify_diag(diag, dsnStatus) gives the labelled category and class."""
    verdict = classify_diag(reply.diag, reply.status)
    assert (verdict.category, verdict.cls) == (reply.category, reply.cls), verdict.rule_id

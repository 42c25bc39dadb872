"""PowerMTA (PCRE) bounce patterns become portable rule regexes with the same answers."""

from __future__ import annotations

import re

import pytest

from classifiers._regex import portability_problem
from classifiers.pcre import translate


@pytest.mark.parametrize(
    ("pattern", "hits", "misses"),
    [
        (r"\b(open)?RBL\b", ["listed in RBL", "openRBL:", "RBL"], ["SURBLS", "xrbl"]),
        (r"\bU\.?C\.?E\.?\b", ["U.C.E. blocked", "no UCE"], ["LUCENE"]),
        (r"\d{3}\s+blocked", ["554  blocked"], ["5a4 blocked"]),
        (r"[\w.]+@spam\.example", ["a.b_c@spam.example"], ["@spam.example"]),
        (r"mailbox +(is +)?full", ["mailbox is full"], ["mailboxfull"]),
    ],
)
def test_translation_is_portable_and_agrees(
    pattern: str, hits: list[str], misses: list[str]
) -> None:
    """Translated patterns pass the portability check and match what the original matches."""
    portable = translate(pattern)
    assert portability_problem(portable) is None
    original, ours = re.compile(pattern, re.I), re.compile(portable, re.I)
    for text in hits + misses:
        assert bool(original.search(text)) == bool(ours.search(text)), text
    assert all(ours.search(t) for t in hits)
    assert not any(ours.search(t) for t in misses)


def test_untranslatable_syntax_is_left_for_the_check() -> None:
    """Look-ahead has no portable spelling: it is kept, and the check refuses it."""
    assert portability_problem(translate(r"foo(?=bar)")) is not None

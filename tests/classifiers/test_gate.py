"""The literal-word gates in front of case-insensitive scans never refuse a match.

Each gate says "this text cannot match" when it holds none of the words; that is only
sound if every string the pattern matches holds one of them. Hypothesis generates
strings from the pattern itself (case variants included, as ``re.IGNORECASE`` allows)
and, inside longer text, the gate must let each one through.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers import autoreply
from classifiers._gate import may_contain
from classifiers.dialects import (
    au_kddi,
    docomo,
    exchange_legacy,
    exchange_ndr,
    exim,
    mdaemon,
    qmail,
    sun_messaging,
    surfcontrol,
    yahoo,
)

GATES: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = [
    ("exim", exim._OPENING, exim._OPENING_WORDS),
    ("yahoo", yahoo._OPENING, yahoo._OPENING_WORDS),
    ("surfcontrol", surfcontrol._OPENING, surfcontrol._OPENING_WORDS),
    ("exchange-ndr", exchange_ndr._USER, exchange_ndr._USER_WORDS),
    ("au-kddi", au_kddi._MARKER, au_kddi._MARKER_WORDS),
    ("docomo", docomo._MARKER, docomo._MARKER_WORDS),
    ("mdaemon", mdaemon._TRANSCRIPT, mdaemon._TRANSCRIPT_WORDS),
    ("exchange2003", exchange_legacy._MARKER, exchange_legacy._MARKER_WORDS),
    ("qmail", qmail._OPENING, qmail._OPENING_WORDS),
    ("oracle-messaging", sun_messaging._OPENING, sun_messaging._OPENING_WORDS),
    ("challenge-response", autoreply._CHALLENGE, autoreply._CHALLENGE_WORDS),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "pattern", "words"), GATES, ids=[g[0] for g in GATES])
def test_gate_passes_every_match(
    name: str, pattern: re.Pattern[str], words: tuple[str, ...]
) -> None:
    assert all(w == w.lower() and w.isascii() for w in words), name

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(st.from_regex(pattern), st.text(max_size=20), st.text(max_size=20))
    def check(match: str, before: str, after: str) -> None:
        text = f"{before}\n{match}\n{after}"
        if pattern.search(text):
            assert may_contain(text, words), (name, text)

    check()


def test_gate_refuses_only_ascii_text_without_the_words() -> None:
    words = ("session transcript",)
    assert not may_contain("Nothing to see here", words)
    assert may_contain("--- SESSION Transcript ---", words)
    assert may_contain("caf\u00e9, no transcript", words)  # not ASCII: always passed on
    text = "A long text without it"
    assert not may_contain(text, words)
    assert not may_contain(text, words)  # the memo of the last text answers the same
    assert may_contain(text, ("long text",))

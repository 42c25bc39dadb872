"""The shortcuts (byte-level DSN path, ARF feedback fields) give what the full path gives."""

from __future__ import annotations

from email.message import Message
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import _mime, arf, autoreply, message
from classifiers._fastdsn import fast_dsn
from classifiers._gate import may_contain
from classifiers._mime import field_blocks, parse_bytes, part_body, text_of
from classifiers.dialects import qmail, sun_messaging
from tests._paths import ROOT as REPO

MAIL = REPO / "tests" / "data" / "mail"
SAMPLES = sorted(MAIL.rglob("*.eml"))


@pytest.mark.parametrize("path", SAMPLES, ids=[str(p.relative_to(MAIL)) for p in SAMPLES])
def test_fast_path_agrees_with_full_parser(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the fast path answers, its report equals the full parser's, field for field."""
    data = path.read_bytes()
    fast = fast_dsn(data, None)
    monkeypatch.setattr(message, "fast_dsn", lambda _data, _table: None)
    slow = message.classify_message(data)
    if fast is not None:
        assert fast == slow


def test_fast_path_covers_most_standard_dsns() -> None:
    """Plain RFC 3464 DSNs (the bulk of returned mail) take the fast path."""
    dsns = [p for p in SAMPLES if p.parent.name.startswith("dsn-")]
    taken = sum(fast_dsn(p.read_bytes(), None) is not None for p in dsns)
    assert taken >= 0.8 * len(dsns)


def _feedback_parts() -> list[tuple[str, Message]]:
    parts = []
    for path in SAMPLES:
        part = arf.find_feedback_part(parse_bytes(path.read_bytes()))
        if part is not None:
            parts.append((str(path.relative_to(MAIL)), part))
    return parts


FEEDBACK_PARTS = _feedback_parts()


@pytest.mark.parametrize("part", [p for _, p in FEEDBACK_PARTS], ids=[n for n, _ in FEEDBACK_PARTS])
def test_feedback_shortcut_agrees_with_generator(part: Message) -> None:
    """The ARF feedback fields read directly equal those read from the generator's text."""
    assert arf.feedback_fields(part) == field_blocks(text_of(part_body(part), "utf-8"))


def test_feedback_shortcut_covers_most_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordinary feedback parts skip the generator (it is then never called)."""

    def refuse(_part: Message) -> bytes:
        raise AssertionError("generator path taken")

    monkeypatch.setattr(arf, "part_body", refuse)
    taken = 0
    for _, part in FEEDBACK_PARTS:
        try:
            arf.feedback_fields(part)
        except AssertionError:
            continue
        taken += 1
    assert FEEDBACK_PARTS
    assert taken >= 0.8 * len(FEEDBACK_PARTS)


_WORD = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)
_VALUE = st.lists(_WORD, max_size=30).map(" ".join)
_NAME = st.sampled_from(["Feedback-Type", "Original-Rcpt-To", "Authentication-Results", "X-Y"])


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAME, _VALUE), min_size=1, max_size=8))
def test_feedback_shortcut_agrees_on_generated_fields(fields: list[tuple[str, str]]) -> None:
    """Long plain values (which the generator refolds) still read back as the same fields."""
    report = "".join(f"{name}: {value}\n" for name, value in fields)
    data = (
        "From: fbl@example.net\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nA complaint.\n"
        f"--b\nContent-Type: message/feedback-report\n\n{report}\n--b--\n"
    ).encode()
    part = arf.find_feedback_part(parse_bytes(data))
    assert part is not None
    assert arf.feedback_fields(part) == field_blocks(text_of(part_body(part), "utf-8"))


_PIECES = (
    "Final-Recipient", "status", ":", " ", "\t", "a", "é", ";", "\n", "\r\n", "\r",
    "\n\n", "\n \n", "\x0c", "\x1d", "\x85", "\u2028", "rfc822; a@b.example",
)  # fmt: skip
_BLOCK_TEXT = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(_BLOCK_TEXT)
def test_field_blocks_agrees_with_line_by_line_reading(text: str) -> None:
    """The one-regex-per-block reading equals the line-by-line one, line breaks of every kind."""
    assert field_blocks(text) == _mime._blocks_by_line(text)


_GATED = (
    (autoreply._CHALLENGE, autoreply._CHALLENGE_WORDS),
    (qmail._OPENING, qmail._OPENING_WORDS),
    (sun_messaging._OPENING, sun_messaging._OPENING_WORDS),
)
_SENTENCES = (
    "Please CONFIRM that you are human", "sender Verification", "Challenge-Response",
    "This is the QMAIL-send program at x", "I'M AFRAID I WASN'T ABLE TO deliver your message"
    " to the following addresses", "this report relates to your message you sent",
    "Your message could not be delivered to the following recipient:", "plain words",
    "K\u212aelvin", "ver\u0131fication needed", "\u017fender verification",
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_SENTENCES), max_size=4).map(" ".join))
def test_word_gates_never_hide_a_match(text: str) -> None:
    """A text the gate turns away is one its regex would not match, in any case."""
    for pattern, words in _GATED:
        for variant in (text, text.upper(), text.swapcase()):
            if pattern.search(variant):
                assert may_contain(variant, words)

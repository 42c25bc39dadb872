"""Auto-reply subjects in the languages Exchange and webmail clients write them in."""

from __future__ import annotations

from email.header import Header

import pytest

from classifiers.message import classify_message

_SUBJECTS = [
    ("cs", "Automatická odpověď: Offers", "windows-1250"),
    ("tr", "Otomatik yan\u0131t: Offers", "utf-8"),
    ("ko", "자동 회신: Offers", "euc-kr"),
    ("zh-hant", "自動回覆: Offers", "big5"),
    ("da", "Automatisk svar: Offers", "iso-8859-1"),
    ("fi", "Automaattinen vastaus: Offers", "iso-8859-1"),
    ("el", "Αυτόματη απάντηση: Offers", "iso-8859-7"),
    ("pl", "Automatyczna odpowiedź: Offers", "iso-8859-2"),
    ("hu", "Automatikus válasz: Offers", "iso-8859-2"),
    ("ro", "Răspuns automat: Offers", "utf-8"),
    ("uk", "Автовідповідь: Offers", "utf-8"),
    ("vi", "Trả lời tự động: Offers", "utf-8"),
]


@pytest.mark.parametrize(
    ("subject", "charset"), [s[1:] for s in _SUBJECTS], ids=[s[0] for s in _SUBJECTS]
)
def test_an_exchange_out_of_office_subject_is_an_auto_reply(subject: str, charset: str) -> None:
    """Exchange's OOF carries no Auto-Submitted: its localised subject (with
    X-Auto-Response-Suppress) says it is an auto-reply."""
    raw = (
        f"From: someone@example.com\nTo: bounce+someone=example.com@bounces.sender.example\n"
        f"Subject: {Header(subject, charset).encode()}\nX-Auto-Response-Suppress: All\n\n"
        "I am away.\n"
    ).encode()
    assert classify_message(raw).kind == "autoreply"


def test_a_subject_that_only_mentions_an_answer_later_is_not_an_auto_reply() -> None:
    """The words must start the subject: a person's "Re: automatic reply settings" is not one."""
    raw = (
        b"From: someone@example.com\nTo: news@sender.example\n"
        b"Subject: Re: question about automatisk svar settings\n\nHow do I set it up?\n"
    )
    assert classify_message(raw).kind == "unknown"

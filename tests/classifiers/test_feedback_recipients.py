"""ARF reports name every complainer, and unsubscribe requests are opt-out reports."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.message import classify_message

_ARF = """\
From: fbl@isp.example
To: fbl@sender.example
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B"

--B
Content-Type: text/plain

A complaint.

--B
Content-Type: message/feedback-report

Feedback-Type: {ftype}
User-Agent: Test/1
Version: 1
{fields}
--B
Content-Type: text/rfc822-headers

From: news@sender.example
To: undisclosed-recipients:;
Subject: Hello

--B--
"""

_FORMS = (
    "Original-Rcpt-To: <{a}>",
    "Original-Rcpt-To: {a}",
    "Original-Rcpt-To:\n <{a}>",
    "Original-Rcpt-To: rfc822; {a}",
    'Original-Rcpt-To: "Some One" <{a}>',
)

_LOCAL = st.from_regex(r"[a-z][a-z0-9.]{0,10}[a-z0-9]", fullmatch=True)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    locals_=st.lists(_LOCAL, min_size=1, max_size=9, unique=True),
    forms=st.lists(st.sampled_from(_FORMS), min_size=9, max_size=9),
    crlf=st.booleans(),
)
def test_every_original_rcpt_to_is_a_reported_complainer(
    locals_: list[str], forms: list[str], crlf: bool
) -> None:
    """An ARF with N Original-Rcpt-To fields, in any of their usual spellings, reports N people."""
    addresses = [f"{local}@isp.example" for local in locals_]
    fields = "\n".join(form.format(a=a) for a, form in zip(addresses, forms, strict=False))
    text = _ARF.format(ftype="abuse", fields=fields)
    raw = (text.replace("\n", "\r\n") if crlf else text).encode()
    report = classify_message(raw)
    assert report.kind == "arf"
    assert [r.address for r in report.recipients] == addresses
    assert {r.cls for r in report.recipients} == {"complaint"}


def test_opt_out_spelled_unsubscribe_is_an_opt_out_complaint() -> None:
    """A report whose Feedback-Type says 'unsubscribe' is RFC 6650's opt-out, still a complaint."""
    raw = _ARF.format(ftype="Unsubscribe", fields="Original-Rcpt-To: <a@isp.example>").encode()
    report = classify_message(raw)
    assert report.feedback is not None
    assert report.feedback.type == "opt-out"
    assert [(r.address, r.cls) for r in report.recipients] == [("a@isp.example", "complaint")]


_APPLE = """\
From: Jo Example <jo@icloud.example>
To: unsubscribe+token@sender.example
Subject: {subject}
Date: Mon, 3 Feb 2025 19:22:07 +0100
{headers}MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
"""


@settings(max_examples=30, deadline=None)
@given(
    subject=st.sampled_from(["", "unsubscribe", "Automatic reply: unsubscribe", "Out of office"]),
    headers=st.sampled_from(
        ["", "X-Apple-Unsubscribe: true\n", "Auto-Submitted: auto-replied\n", "X-Autoreply: yes\n"]
    ),
    body=st.sampled_from(
        [
            'Apple Mail sent this email to unsubscribe from the message "Picks".',
            "Apple Mail sent this e-mail\nto unsubscribe from the message \u201cPicks\u201d.",
            "Mail sent this message to unsubscribe from the message 'Picks'.",
        ]
    ),
)
def test_a_mail_client_unsubscribe_request_is_an_opt_out_never_an_auto_reply(
    subject: str, headers: str, body: str
) -> None:
    """Apple Mail's unsubscribe message is an opt-out from its sender, whatever auto-reply signs."""
    raw = _APPLE.format(subject=subject, headers=headers, body=body).encode()
    report = classify_message(raw)
    assert report.kind == "arf", report.reason
    assert report.feedback is not None
    assert report.feedback.type == "opt-out"
    assert [(r.address, r.cls) for r in report.recipients] == [("jo@icloud.example", "complaint")]


def test_an_ordinary_auto_reply_mentioning_unsubscribe_stays_an_auto_reply() -> None:
    """An out-of-office reply that merely says 'unsubscribe' is not taken for an opt-out."""
    raw = _APPLE.format(
        subject="Out of office",
        headers="Auto-Submitted: auto-replied\n",
        body="I am away. To unsubscribe from my newsletter, use the link on the site.",
    ).encode()
    assert classify_message(raw).kind == "autoreply"


def test_a_feedback_part_labelled_text_plain_is_still_read() -> None:
    """A feedback report whose reporter labelled the feedback part text/plain still names all."""
    fields = "Original-Rcpt-To: <a@isp.example>\nOriginal-Rcpt-To: <b@isp.example>"
    text = _ARF.format(ftype="opt-out", fields=fields)
    raw = text.replace("Content-Type: message/feedback-report", "Content-Type: text/plain").encode()
    report = classify_message(raw)
    assert report.kind == "arf", report.reason
    assert report.feedback is not None
    assert report.feedback.type == "opt-out"
    assert [r.address for r in report.recipients] == ["a@isp.example", "b@isp.example"]

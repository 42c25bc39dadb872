"""classify_message never raises, whatever bytes it is given."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers.message import classify_message
from classifiers.types import MESSAGE_KINDS

_FRAGMENTS = [
    b"From: MAILER-DAEMON@example.com\n",
    b"Subject: Undelivered Mail Returned to Sender\n",
    b"MIME-Version: 1.0\n",
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n',
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n',
    b"\n--b\n",
    b"--b--\n",
    b"Content-Type: message/delivery-status\n\n",
    b"Content-Type: message/global-delivery-status\n\n",
    b"Content-Type: message/feedback-report\n\n",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Type: text/rfc822-headers\n\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Final-Recipient: rfc822; a@example.com\n",
    b"Final-Recipient: utf-8; \\x{1F600}@example.com\n",
    b"Action: failed\n",
    b"Action: delayed\n",
    b"Status: 5.1.1\n",
    b"Status: 4.\n",
    b"Diagnostic-Code: smtp; 550 5.1.1 no such user\n",
    b"Feedback-Type: abuse\n",
    b"Original-Rcpt-To: redacted@example.com\n",
    b"X-Acctpipe-Rcpt: b@example.org\n",
    b"Return-Path: <bounce+c=example.net@b.example>\n",
    b"Auto-Submitted: auto-replied\n",
    b"Content-Type: text/plain; charset=x-unknown\n\n",
    b"=?utf-8?b?////?=\n",
    b"\r\n",
    b"\r",
    b"\x00\xff\xfe",
    b"    folded continuation\n",
    b"<a@example.com>: host mx.example.com said: 550 5.1.1 unknown\n",
]


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    """Arbitrary bytes give a report of a known kind, never an exception."""
    report = classify_message(data)
    assert report.kind in MESSAGE_KINDS


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map(b"".join))
def test_report_shaped_noise_never_raises(data: bytes) -> None:
    """Shuffled pieces of real DSN/ARF syntax never crash the classifier."""
    report = classify_message(data)
    assert report.kind in MESSAGE_KINDS
    if report.kind == "unknown":
        assert report.reason


def test_mixed_line_endings_with_bare_cr_parse_like_lf() -> None:
    """A report whose lines end in CRLF, CR and LF alike reads as the LF one does;
    CR CR LF is two line breaks."""
    from classifiers._mime import normalise_newlines
    from classifiers.message import classify_message

    assert normalise_newlines(b"a\r\r\nb\nc\r\n") == b"a\n\nb\nc\n"
    lf = (
        b"From: fbl@isp.example\nTo: fbl@sender.example\nSubject: report\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nabuse report\n"
        b"--b\nContent-Type: message/feedback-report\n\n"
        b"Feedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\nOriginal-Rcpt-To: <k@isp.example>\n"
        b"\n--b--\n"
    )
    lines = lf.split(b"\n")
    # an empty line always ends in CRLF, so a bare CR before it stays two breaks
    mixed = b"".join(
        line + (b"\r\n" if not line else (b"\r\n", b"\r", b"\n")[i % 3])
        for i, line in enumerate(lines)
    )
    assert b"\r\r\n" in mixed
    assert b"\rC" in mixed
    for raw in (lf, mixed):
        report = classify_message(raw)
        assert [r.address for r in report.recipients] == ["k@isp.example"], report.reason


def test_a_base64_encoded_attached_original_is_decoded() -> None:
    """RFC 2046 forbids encoding message/rfc822, yet some feedback loops do: the stamp inside
    the decoded original still recovers the recipient."""
    import base64

    from classifiers.message import classify_message

    original = (
        b"From: news@sender.example\nTo: <t@hotmail.example>\n"
        b"X-Acctpipe-Rcpt: t@hotmail.example\n\nhi\n"
    )
    raw = (
        b"From: staff@hotmail.example\nTo: fbl@sender.example\nSubject: complaint\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nabuse report\n"
        b"--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n\n"
        b"--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(original)
        + b"--b--\n"
    )
    report = classify_message(raw)
    assert [r.address for r in report.recipients] == ["t@hotmail.example"], report.reason


def test_a_challenge_response_with_auto_submitted_is_not_an_auto_reply() -> None:
    """'Please confirm you are human' requests are kind unknown even with Auto-Submitted."""
    from classifiers.message import classify_message

    raw = (
        b"From: noreply@shield.example\nTo: bounce+u=example.com@bounces.sender.example\n"
        b"Subject: Message held\nAuto-Submitted: auto-replied\n\n"
        b"Your message has been held. Please confirm you are human by clicking the link.\n"
    )
    assert classify_message(raw).kind == "unknown"
    vacation = raw.replace(b"Please confirm you are human by clicking", b"I am away; see")
    assert classify_message(vacation).kind == "autoreply"


def test_our_own_return_path_in_a_text_bounce_is_never_a_failed_recipient() -> None:
    """A layout-free bounce (here read by flufl.bounce) may name the address it is sent
    to; our return path is never reported as a failed recipient. The Exchange 2003
    "unable to connect successfully to the destination mail server" is a bad connection."""
    from classifiers.message import classify_message
    from classifiers.reply import classify_diag

    raw = (
        b"From: System Attendant <postmaster@example.com>\n"
        b"To: bounce+a.b=example.com@bounces.sender.example\nSubject: Undeliverable: hi\n\n"
        b"Unable to deliver message to the following recipients, due to being unable to\n"
        b"connect successfully to the destination mail server.\n\na.b@example.com\n\n"
        b"Return-Path: <bounce+a.b=example.com@bounces.sender.example>\n"
        b"From: news@sender.example\nTo: <a.b@example.com>\nSubject: hi\n\nbody\n"
    )
    report = classify_message(raw)
    assert [r.address for r in report.recipients] == ["a.b@example.com"], report.reason
    sentence = "unable to connect successfully to the destination mail server"
    assert classify_diag(sentence, "").category == "bad-connection"

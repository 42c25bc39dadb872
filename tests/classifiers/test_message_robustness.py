"""classify_message never raises, whatever bytes it is given."""

from __future__ import annotations

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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    """Arbitrary bytes give a report of a known kind, never an exception."""
    report = classify_message(data)
    assert report.kind in MESSAGE_KINDS


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map(b"".join))
def test_report_shaped_noise_never_raises(data: bytes) -> None:
    """Shuffled pieces of real DSN/ARF syntax never crash the classifier."""
    report = classify_message(data)
    assert report.kind in MESSAGE_KINDS
    if report.kind == "unknown":
        assert report.reason

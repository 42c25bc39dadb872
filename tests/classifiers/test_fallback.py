"""The last resorts: flufl.bounce's permanent failures stay permanent; a notice's one reason."""

from __future__ import annotations

from classifiers import classify_message
from classifiers._fallback import flufl_findings
from classifiers._mime import body_text, parse_bytes

QMAIL = (
    b"From: MAILER-DAEMON@mx.example.net\n"
    b"To: bounces@sender.example\n"
    b"Subject: failure notice\n\n"
    b"Hi. This is the qmail-send program at mx.example.net.\n"
    b"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    b"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
    b"<gone@example.net>:\n"
    b"This account has been closed.\n\n"
    b"--- Below this line is a copy of the message.\n\n"
    b"Subject: hello\n\nhi\n"
)


def test_a_permanent_failure_per_flufl_is_not_taken_for_a_temporary_one() -> None:
    """flufl.bounce's all_failures returns (temporary, permanent): read in that order."""
    msg = parse_bytes(QMAIL)
    findings = flufl_findings(msg, body_text(msg))
    assert [(f.address, f.temporary) for f in findings] == [("gone@example.net", False)]


def _notice(reason_lines: bytes) -> bytes:
    return (
        b"From: postmaster@gw.example.org\n"
        b"To: bounces@sender.example\n"
        b"Subject: Undeliverable mail\n\n"
        b"Delivery to the following recipients failed permanently:\n\n"
        b"   * ann@example.org\n\n\n\n\n"
        b"Details:\n\n" + reason_lines + b"\n"
        b"----- Original message -----\n\n"
        b"Subject: your mailbox is full? Upgrade now\n\nbuy more storage\n"
    )


def test_a_notice_whose_reason_is_far_from_the_address_is_classed_by_it() -> None:
    """The one reason the notice gives decides its recipients; the original is not read."""
    report = classify_message(_notice(b"The recipient name is not recognized.\n"))
    assert [(r.address, r.cls, r.category) for r in report.recipients] == [
        ("ann@example.org", "hard", "bad-mailbox")
    ]
    assert report.recipients[0].diag == "The recipient name is not recognized."


def test_a_notice_with_two_disagreeing_reasons_stays_unknown() -> None:
    """An unknown user and a full mailbox, tied to no address: which is whose is unknown."""
    report = classify_message(_notice(b"User unknown.\nMailbox full.\n"))
    assert [(r.address, r.cls) for r in report.recipients] == [("ann@example.org", "unknown")]


def test_a_notice_without_a_reason_stays_unknown_even_if_the_original_names_one() -> None:
    """'mailbox is full' in the returned original's subject is not the notice's reason."""
    report = classify_message(_notice(b"No further information.\n"))
    assert [(r.address, r.cls) for r in report.recipients] == [("ann@example.org", "unknown")]


def _returned(original_headers: bytes, to: bytes = b"bounces@sender.example") -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.net\n"
        b"To: " + to + b"\n"
        b"Subject: Mail delivery failed\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\n"
        b"One or more of the recipients are not a valid user of the system.\n"
        b"--b\nContent-Type: message/rfc822\n\n" + original_headers + b"\nhello\n--b--\n"
    )


def test_a_bounce_naming_no_recipient_takes_the_originals_one_addressee() -> None:
    """The original's single To names the recipient; the notice's reason classes it."""
    report = classify_message(_returned(b"From: news@sender.example\nTo: <Ann@Example.org>\n"))
    assert report.detector == "original"
    assert [(r.address, r.cls) for r in report.recipients] == [("Ann@example.org", "hard")]
    assert "recovered from the to" in report.reason


def test_the_received_for_clause_names_the_recipient_when_to_cannot() -> None:
    """A list-style To (several addresses) is passed over for Received's 'for <addr>'."""
    original = (
        b"Received: from mx.sender.example by mx.example.net with ESMTP id 1\n"
        b"\tfor <bo@example.net>; Mon, 30 Dec 2024 18:46:11 +0000\n"
        b"From: news@sender.example\nTo: a@example.net, b@example.net\n"
    )
    assert [r.address for r in classify_message(_returned(original)).recipients] == [
        "bo@example.net"
    ]


def test_our_verp_address_outranks_the_originals_headers() -> None:
    """Sent to bounce+cy=example.com@…: that is whose bounce it is."""
    report = classify_message(
        _returned(b"To: other@example.org\n", to=b"bounce+cy=example.com@bounces.sender.example")
    )
    assert [r.address for r in report.recipients] == ["cy@example.com"]


def test_an_original_that_names_several_people_names_nobody() -> None:
    """Two addresses in To and a Cc: no recovery, the report stays unknown."""
    report = classify_message(_returned(b"To: a@example.org\nCc: b@example.org\n"))
    assert (report.kind, report.recipients) == ("unknown", ())

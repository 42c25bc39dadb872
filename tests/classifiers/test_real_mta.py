"""What real MTAs' returned mail (tests/data/mail/*-real/, scripts/capture-returns) teaches.

The expectation table checks class and category of every capture; these tests pin
whose fault each refusal is and the one reading the captures corrected: Exim's
"<reply>: retry timeout exceeded" is classified by the reply's reason.
"""

from __future__ import annotations

import pytest

from classifiers import classify_message
from tests._paths import ROOT as REPO

MAIL = REPO / "tests" / "data" / "mail"


@pytest.mark.parametrize(
    ("file", "fault"),
    [
        ("postfix-real/unknown-user.eml", "recipient"),
        ("exim-real/mailbox-full-expired.eml", "recipient"),
        ("postfix-real/mailbox-full-expired.eml", "recipient"),
        ("dma-real/sender-rejected.eml", "sender"),
        ("exim-real/sender-rejected.eml", "sender"),
        ("postfix-real/helo-rejected.eml", "our-host"),
        ("exim-real/blocked-ip.eml", "our-host"),
        ("postfix-real/content-rejection.eml", "content"),
        ("postfix-real/timeout.eml", "network"),
        ("exim-real/unreachable.eml", "network"),
    ],
)
def test_real_captures_say_whose_fault(file: str, fault: str) -> None:
    """A refusal of our sender or host is never the recipient's; a dead path is the network's."""
    (recipient,) = classify_message((MAIL / file).read_bytes()).recipients
    assert recipient.fault == fault


def test_exim_expiry_is_classified_by_the_last_reply() -> None:
    """Exim 4.96 writes Status 5.0.0 and "452 4.2.2 …: retry timeout exceeded": a full mailbox."""
    data = (MAIL / "exim-real/mailbox-full-expired.eml").read_bytes()
    assert b"Mailbox full, try again later: retry timeout exceeded" in data
    (recipient,) = classify_message(data).recipients
    assert (recipient.cls, recipient.category, recipient.rule) == (
        "soft", "quota-issues", "quota-mailbox-full",
    )  # fmt: skip


def _exim_dsn(diag: str) -> bytes:
    return (
        "From: Mail Delivery System <Mailer-Daemon@sender.example.org>\n"
        "To: bounces@sender.example.org\nSubject: Mail delivery failed\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nThe following address(es) failed:\n\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; exim.sender.example.org\n\n"
        "Action: failed\nFinal-Recipient: rfc822;a@example.net\nStatus: 5.0.0\n"
        f"Diagnostic-Code: smtp; {diag}\n--b--\n"
    ).encode()


@pytest.mark.parametrize(
    ("diag", "category"),
    [
        ("451 4.7.1 <a@example.net>: Greylisted: retry timeout exceeded", "policy-related"),
        ("451 4.0.0 <a@example.net>: zzz: retry timeout exceeded", "message-expired"),
        ("421 4.3.0 try again later: retry timeout exceeded", "message-expired"),
        ("retry timeout exceeded", "message-expired"),
    ],
)
def test_expiry_wins_only_over_a_fallback_or_a_weak_reason(diag: str, category: str) -> None:
    """A reply decided by a status fallback or a weak text keeps Exim's own verdict: expired."""
    (recipient,) = classify_message(_exim_dsn(diag)).recipients
    assert (recipient.cls, recipient.category) == ("soft", category)

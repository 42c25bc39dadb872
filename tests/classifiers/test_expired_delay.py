"""Reports that say less than they mean: an expired "delay", reasons listed one a line.

OpenSMTPD up to 6.8 returns an expired envelope with ``Action: delayed`` and the
human text "A message is delayed for more than 0 seconds … <addr>: Envelope
expired"; the real capture is ``tests/data/mail/opensmtpd-real/greylisted-expired.eml``.
"""

from __future__ import annotations

from classifiers._mime import text_near
from classifiers.message import classify_message


def _report(human_line: str) -> bytes:
    return (
        "From: Mailer Daemon <MAILER-DAEMON@mx.sender.test>\n"
        "To: news@sender.test\n"
        "Subject: Delivery status notification: delayed\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"\n'
        "\n"
        "--b1\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "    A message is delayed for more than 0 seconds for the following\n"
        "    list of recipients:\n"
        "\n"
        f"{human_line}\n"
        "\n"
        "    Please note that this is only a temporary failure report.\n"
        "\n"
        "--b1\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx.sender.test\n"
        "\n"
        "Final-Recipient: rfc822; zoe@example.org\n"
        "Action: delayed\n"
        "Status: 4.4.7\n"
        "\n"
        "--b1--\n"
    ).encode()


def test_envelope_expired_is_a_soft_failure() -> None:
    report = classify_message(_report("zoe@example.org: Envelope expired"))
    assert report.kind == "dsn"
    (rcpt,) = report.recipients
    assert (rcpt.action, rcpt.cls, rcpt.category, rcpt.fault) == (
        "failed", "soft", "message-expired", "network",
    )  # fmt: skip
    assert rcpt.diag == "Envelope expired"


def test_a_real_delay_stays_a_delay() -> None:
    report = classify_message(_report("zoe@example.org: 451 4.7.1 try again later"))
    assert report.kind == "delay"
    assert report.recipients[0].action == "delayed"


def test_one_recipient_a_line_gives_each_its_own_reason() -> None:
    """A status part without Diagnostic-Code: each reason comes from its own line only."""
    text = (
        "zoe@example.org: 550 5.1.1 <zoe@example.org>: User unknown\n"
        "max@example.org: 550 5.7.1 <max@example.org>: Access denied by policy\n"
        "    (folded onto the next line)\n"
    )
    assert (
        text_near(text, "zoe@example.org")
        == "zoe@example.org: 550 5.1.1 <zoe@example.org>: User unknown"
    )
    assert text_near(text, "max@example.org").endswith("(folded onto the next line)")

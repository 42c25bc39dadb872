"""MTA wordings the text-bounce plug-ins read: Exim's "…: retry timeout exceeded",
sendmail's give-up line and domain-less local verdicts, Exchange 2007's heading,
Japanese Domino reports, and expiry texts of GroupWise, IMail and OpenSMTPD.

The inline samples are small bounces written for these tests; the golden corpus
(tests/data/mail) checks the same plug-ins end to end.
"""

from __future__ import annotations

import pytest

from classifiers._mime import body_text, parse_bytes
from classifiers.dialects import Finding, exim, lotus, sendmail
from classifiers.message import classify_message
from classifiers.reply import classify_diag

ORIGINAL = """Return-Path: <bounce+ann=example.org@bounces.sender.example>
From: "Example Store" <news@sender.example>
To: <ann@example.org>
Subject: Spring offers
X-Acctpipe-Rcpt: ann@example.org

Hello, our spring offers are here.
"""


def _findings(
    dialect: exim.EximDialect | sendmail.SendmailDialect | lotus.LotusDialect, raw: bytes
) -> list[Finding] | None:
    msg = parse_bytes(raw)
    return dialect.detect(msg, body_text(msg))


def _exim(reason: str) -> bytes:
    return (
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
        "To: bounce+ann=example.org@bounces.sender.example\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: ann@example.org\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  ann@example.org\n    {reason}\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n" + ORIGINAL
    ).encode()


@pytest.mark.parametrize(
    ("reason", "diag", "category"),
    [
        ("mailbox is full: retry timeout exceeded", "mailbox is full", "quota-issues"),
        (
            "451 4.7.1 Greylisted, try again later: retry timeout exceeded",
            "451 4.7.1 Greylisted, try again later",
            "policy-related",
        ),
        ("retry timeout exceeded", "retry timeout exceeded", "message-expired"),
    ],
)
def test_exim_retry_timeout_is_classed_by_the_last_error(
    reason: str, diag: str, category: str
) -> None:
    assert _findings(exim.DIALECT, _exim(reason)) == [Finding("ann@example.org", diag)]
    assert classify_diag(diag).category == category


def _sendmail(transcript: str, subject: str = "Returned mail: see transcript for details") -> bytes:
    return (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mail.example.org>\n"
        "To: bounce+ann=example.org@bounces.sender.example\n"
        f"Subject: {subject}\n\n"
        "   ----- Transcript of session follows -----\n"
        f"{transcript}\n"
        "   ----- Unsent message follows -----\n" + ORIGINAL
    ).encode()


def test_sendmail_give_up_makes_a_deferral_final_and_keeps_its_reason() -> None:
    raw = _sendmail(
        "<ann@example.org>... Deferred: Connection timed out with mx.example.org\n"
        "<ann@example.org>... Cannot send message for 5 days\n"
    )
    [found] = _findings(sendmail.DIALECT, raw) or []
    assert not found.temporary
    assert "Connection timed out" in found.diag


def test_sendmail_deferral_alone_stays_temporary() -> None:
    raw = _sendmail("<ann@example.org>... Deferred: Connection timed out with mx.example.org\n")
    [found] = _findings(sendmail.DIALECT, raw) or []
    assert found.temporary


def test_sendmail_local_user_verdict_applies_to_the_returned_recipient() -> None:
    raw = _sendmail("550 ann... User unknown\n", subject="Returned mail: User unknown")
    assert _findings(sendmail.DIALECT, raw) == [
        Finding("ann@example.org", "550 ann... User unknown")
    ]


def test_sendmail_local_user_verdict_for_another_user_names_nobody() -> None:
    raw = _sendmail("550 bob... User unknown\n", subject="Returned mail: User unknown")
    assert not _findings(sendmail.DIALECT, raw)


def test_sendmail_expiry_line_alone_is_message_expired() -> None:
    assert classify_diag("<ann@example.org>... Cannot send message for 5 days").category == (
        "message-expired"
    )


def _domino_ja(reason: str) -> bytes:
    body = (
        "あなたのメッセージ\n\n  件名: Spring offers\n\n"
        "は次の宛先に配信されませんでした:\n\n  ann@example.org\n\n"
        f"理由:\n\n  {reason}\n\n"
        "----- 返送されたメッセージのヘッダー -----\n\n" + ORIGINAL
    )
    return (
        b"From: Postmaster@notes.example.org\n"
        b"To: bounce+ann=example.org@bounces.sender.example\n"
        b"Subject: DELIVERY FAILURE\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: text/plain; charset="iso-2022-jp"\n\n' + body.encode("iso-2022-jp")
    )


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        (
            "ユーザー ann (ann@example.org) は Domino ディレクトリにリストされていません",
            "bad-mailbox",
        ),
        ("メールボックスがいっぱいのため、メッセージを配信できません", "quota-issues"),
    ],
)
def test_japanese_domino_report_is_read_and_its_reason_glossed(reason: str, category: str) -> None:
    [found] = _findings(lotus.DIALECT, _domino_ja(reason)) or []
    assert found.address == "ann@example.org"
    assert found.diag.startswith(reason)
    assert classify_diag(found.diag).category == category


def test_exchange_2007_distribution_lists_heading() -> None:
    raw = (
        "From: Microsoft Exchange <postmaster@corp.example>\n"
        "To: bounce+ann=corp.example@bounces.sender.example\n"
        "Subject: Undeliverable: Spring offers\n\n"
        "Delivery has failed to these recipients or distribution lists:\n\n"
        "ann@corp.example\nThe e-mail address you entered couldn't be found.\n\n"
        "Diagnostic information for administrators:\n\nGenerating server: EX07.corp.example\n\n"
        "ann@corp.example\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n\n"
        "Original message headers:\n\n" + ORIGINAL
    ).encode()
    report = classify_message(raw)
    assert report.detector == "exchange-ndr"
    assert [(r.address, r.cls) for r in report.recipients] == [("ann@corp.example", "hard")]


@pytest.mark.parametrize(
    ("diag", "category"),
    [
        ("retry time exceeded", "message-expired"),  # GroupWise
        ("Delivery failed 3 attempts", "message-expired"),  # IMail
        ("Network error on destination MXs", "bad-connection"),  # OpenSMTPD
        ("Envelope expired", "message-expired"),  # OpenSMTPD
        ("The recipient's mail file exceeds its size quota", "quota-issues"),  # Domino
        # sendmail, a temporary DNS failure
        ("Deferred: Name server: example.org.: host name lookup failure", "routing-errors"),
    ],
)
def test_expiry_and_network_wordings(diag: str, category: str) -> None:
    result = classify_diag(diag)
    assert (result.category, result.cls) == (category, "soft")

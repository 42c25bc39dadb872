"""RFC 3463 statuses, RFC 5321 reply codes and RFC 3464 diagnostics: classifiers.status."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers.status import (
    is_temporary,
    normalise_text,
    parse_diag,
    parse_enhanced_status,
    status_class,
    status_subject,
)

GMAIL_JOINED = (
    "smtp;550-5.1.1 The email account that you tried to reach does not exist. Please try "
    "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
    "unnecessary spaces. Learn more at 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser"
    " a1si1 - gsmtp"
)
GMAIL_TEXT = (
    "The email account that you tried to reach does not exist. Please try double-checking "
    "the recipient's email address for typos or unnecessary spaces. Learn more at "
    "https://support.google.com/mail/?p=NoSuchUser a1si1 - gsmtp"
)


@pytest.mark.parametrize(
    ("diag", "expected"),
    [
        (
            "smtp;550 5.1.1 <x@example.com>: Recipient address rejected",
            (550, "5.1.1", "<x@example.com>: Recipient address rejected"),
        ),
        (GMAIL_JOINED, (550, "5.1.1", GMAIL_TEXT)),
        (
            "smtp; 550-5.1.1 The email account\r\n550-5.1.1 that you tried\n550 5.1.1 to reach",
            (550, "5.1.1", "The email account that you tried to reach"),
        ),
        ("550 5.7.1 Message rejected", (550, "5.7.1", "Message rejected")),
        ("SMTP; 421 Too many connections", (421, "", "Too many connections")),
        (
            "X-Postfix; Host or domain name not found. Name service error",
            (None, "", "Host or domain name not found. Name service error"),
        ),
        ("X-Unix; mailbox full", (None, "", "mailbox full")),
        ("Connection refused", (None, "", "Connection refused")),
        ("timeout; giving up", (None, "", "timeout; giving up")),
        (
            "Sorry, no mailbox here by that name. (#5.1.1)",
            (None, "5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)"),
        ),
        (
            "Remote host said: 553 5.1.8 <a@b>... Domain of sender address a@b does not exist",
            (
                553,
                "5.1.8",
                "Remote host said: <a@b>... Domain of sender address a@b does not exist",
            ),
        ),
        (
            "smtp;554- (RTR:BL) blocked\n554  Connecting IP: 192.0.2.1",
            (554, "", "(RTR:BL) blocked Connecting IP: 192.0.2.1"),
        ),
        ("smtp;552 1 Requested mail action aborted", (552, "", "1 Requested mail action aborted")),
        ("smtp;250 2.0.0 OK", (250, "2.0.0", "OK")),
        ("smtp;550", (550, "", "")),
        ("smtp;", (None, "", "")),
        ("", (None, "", "")),
        ("   \n\t ", (None, "", "")),
        ("smtp;550 5.01.001 odd zeros", (550, "5.1.1", "odd zeros")),
        ("smtp;571 Delivery not authorized", (571, "", "Delivery not authorized")),
        ("smtp;650 not a reply code", (None, "", "650 not a reply code")),
        ("smtp;5500 not a reply code", (None, "", "5500 not a reply code")),
    ],
)
def test_parse_diag_splits_code_status_and_text(
    diag: str, expected: tuple[int | None, str, str]
) -> None:
    """parse_diag returns (reply code, enhanced status, text) for PowerMTA, DSN and plain forms."""
    assert parse_diag(diag) == expected


def test_parse_diag_never_takes_an_ip_address_for_a_status() -> None:
    """Dotted numbers inside IP addresses or versions are not enhanced status codes."""
    assert parse_diag("smtp;554 blocked [192.5.1.10] v5.1.1.2 x45.7.1") == (
        554,
        "",
        "blocked [192.5.1.10] v5.1.1.2 x45.7.1",
    )


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("5.1.1", "5.1.1"),
        ("5.1.1 (bad destination mailbox address)", "5.1.1"),
        ("4.4.7 (delivery time expired)", "4.4.7"),
        ("#5.2.2", "5.2.2"),
        ("(4.2.2)", "4.2.2"),
        ("mail for you: 5.7.26.", "5.7.26"),
        ("5.07.010", "5.7.10"),
        ("2.0.0 (success)", "2.0.0"),
        ("3.1.1", ""),
        ("5.1", ""),
        ("5.1.1.1", ""),
        ("5.1.1234", ""),
        ("", ""),
        ("undefined status", ""),
    ],
)
def test_parse_enhanced_status_normalises_or_returns_empty(text: str, status: str) -> None:
    """The first well-delimited RFC 3463 code is returned without leading zeros, else ""."""
    assert parse_enhanced_status(text) == status


def test_normalise_text_collapses_whitespace_and_folds_turkish_i() -> None:
    """Whitespace runs become one space, ends are trimmed, U+0130/U+0131 become I/i."""
    assert normalise_text("  a\t\tb\r\n c \u0130\u0131 ") == "a b c Ii"


def test_status_parts_and_temporary_failures() -> None:
    """A 4xx code or a 4.x.x status is temporary; class and subject are read from the status."""
    assert status_class("5.7.26") == "5"
    assert status_subject("5.7.26") == "7"
    assert status_subject("") == ""
    assert is_temporary(421, "")
    assert is_temporary(550, "4.2.2")
    assert is_temporary(None, "4.0.0")
    assert not is_temporary(550, "5.1.1")
    assert not is_temporary(None, "")


_STATUS = re.compile(r"[245]\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")


@pytest.mark.slow
@given(st.text())
def test_parse_diag_never_raises_and_returns_normal_forms(diag: str) -> None:
    """Any string parses to a 2xx-5xx code or None, a normalised status or "", a clean text."""
    code, status, text = parse_diag(diag)
    assert code is None or 200 <= code <= 599
    assert status == "" or _STATUS.fullmatch(status)
    assert text == normalise_text(text)

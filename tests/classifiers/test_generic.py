"""The generic reader: any vendor's human-readable bounce gets its recipients and their replies.

The inline samples are small bounces written for these tests in layouts no vendor
plug-in claims; the corpus folder tests/data/mail/generic checks the reader end to end.
"""

from __future__ import annotations

import time
from email.message import Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers import classify_message
from classifiers._mime import body_text, parse_bytes
from classifiers.dialects import Finding
from classifiers.dialects.generic import DIALECT
from classifiers.types import MESSAGE_KINDS

DAEMON = b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
TO_US = b"To: bounce+ann=example.org@bounces.sender.example\n"


def _bounce(
    body: bytes, *, headers: bytes = b"", subject: bytes = b"Mail delivery failed"
) -> bytes:
    return DAEMON + TO_US + b"Subject: " + subject + b"\n" + headers + b"\n" + body


def _detect(raw: bytes) -> list[Finding] | None:
    msg: Message = parse_bytes(raw)
    return DIALECT.detect(msg, body_text(msg))


def _classes(raw: bytes) -> list[tuple[str, str, str]]:
    report = classify_message(raw)
    assert report.detector == "generic", report.reason
    return [(r.address, r.cls, r.category) for r in report.recipients]


GMAIL_OLD = b"""Delivery to the following recipient failed permanently:

     ann@example.org

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the
recipient domain example.org by mx.example.org. [192.0.2.8].

The error that the other server returned was:
550-5.2.1 The email account that you tried to reach is disabled.
550 5.2.1 https://support.google.com/mail/?p=DisabledUser - gsmtp

----- Original message -----

To: ann@example.org
Cc: bea@example.org
"""


def test_gmail_old_text_is_classed_from_the_other_servers_reply() -> None:
    """Gmail's old non-DSN bounce is classed by "The error that the other server returned
    was:" (a disabled account is hard), and the original's Cc is not a recipient."""
    raw = _bounce(GMAIL_OLD, subject=b"Delivery Status Notification (Failure)")
    assert _classes(raw) == [("ann@example.org", "hard", "inactive-mailbox")]


def test_host_said_lines_without_a_vendor_opening_are_read() -> None:
    """Lines "<addr>: host X[ip] said: 550 …" from a relay that rewrote Postfix's text are
    read, one recipient per line with its indented continuation."""
    body = (
        b"Your message could not be delivered.\n\n"
        b"<ann@example.org>: host mx.example.org[192.0.2.5] said: 550 5.1.1\n"
        b"    <ann@example.org>: Recipient address rejected: User unknown\n"
        b"<cy@example.com>: host mx.example.com[192.0.2.6] said: 452 4.2.2 Mailbox full\n"
    )
    assert _classes(_bounce(body)) == [
        ("ann@example.org", "hard", "bad-mailbox"),
        ("cy@example.com", "soft", "quota-issues"),
    ]


def test_arrow_transcript_pairs_rcpt_with_its_reply_and_skips_our_sender() -> None:
    """In a ">>>"/"<<<" transcript the refused RCPT TO is the recipient; MAIL FROM (our
    envelope sender) and accepted recipients are not."""
    body = (
        b"The conversation with the receiving server went as follows:\n"
        b">>> MAIL FROM:<bounce+ann=example.org@bounces.sender.example>\n"
        b"<<< 250 2.1.0 Sender ok\n"
        b">>> RCPT TO:<ok@example.org>\n"
        b"<<< 250 2.1.5 Recipient ok\n"
        b">>> RCPT TO:<ann@example.org>\n"
        b"<<< 550 5.7.1 Message refused: client host blocked using bl.spamcop.net\n"
    )
    assert _classes(_bounce(body)) == [("ann@example.org", "spam", "spam-related")]


def test_a_list_of_recipients_shares_the_reason_below_it() -> None:
    """Addresses listed one per line, then one reply, all get that reply."""
    body = (
        b"The following recipients could not be reached:\n\n"
        b"   ann@example.org\n   bea@example.org\n\n"
        b"Reason: 550 5.1.1 User unknown\n"
    )
    found = _detect(_bounce(body)) or []
    assert [(f.address, f.diag) for f in found] == [
        ("ann@example.org", "550 5.1.1 User unknown"),
        ("bea@example.org", "550 5.1.1 User unknown"),
    ]


def test_x_failed_recipients_takes_each_address_reply_or_the_only_one() -> None:
    """X-Failed-Recipients lists the recipients; each takes the reply next to it, and one
    not named in the text takes the message's single remaining reply only if there is one."""
    headers = b"X-Failed-Recipients: ann@example.org,\n bea@example.org\n"
    body = b"ann@example.org: 550 5.1.1 No such user\n\nbea: mailbox full\n"
    found = _detect(_bounce(body, headers=headers)) or []
    assert [(f.address, f.diag) for f in found] == [
        ("ann@example.org", "550 5.1.1 No such user"),
        ("bea@example.org", ""),
    ]
    single = _detect(_bounce(b"Failed.\n\n  554 5.7.1 Rejected by policy\n", headers=headers))
    assert [f.diag for f in single or []] == ["554 5.7.1 Rejected by policy"] * 2


def test_no_reason_gives_class_unknown_and_says_so() -> None:
    """A bounce naming its recipient but no reason keeps class unknown, and the report's
    reason says that no failure reason was given."""
    headers = b"X-Failed-Recipients: ann@example.org\n"
    report = classify_message(_bounce(b"Your message could not be delivered.\n", headers=headers))
    assert [(r.address, r.cls) for r in report.recipients] == [("ann@example.org", "unknown")]
    assert "no reason" in report.reason


def test_a_warning_with_a_4xx_reply_is_a_delay() -> None:
    """A warning that the server will keep trying, with a 4xx reply, is a delay, its
    recipient soft."""
    body = b"This is a warning only; we will keep trying.\n\nann@example.org: 451 4.4.1 timeout\n"
    report = classify_message(_bounce(body, subject=b"Delivery delayed"))
    assert report.kind == "delay"
    assert [(r.address, r.action, r.cls) for r in report.recipients] == [
        ("ann@example.org", "delayed", "soft")
    ]


def test_messages_that_are_not_bounces_are_left_alone() -> None:
    """A person's forward of a bounce, a person's mail quoting a reply and a standard DSN
    are not claimed by the generic reader."""
    line = b"ann@example.org: 550 5.1.1 No such user\n"
    person = b"From: Tina <tina@example.com>\nTo: shop@sender.example\n"
    assert _detect(person + b"Subject: Fwd: Undelivered Mail\n\n" + line) is None
    assert _detect(person + b"Subject: hello\n\n" + line) is None
    dsn = (
        DAEMON + b'Content-Type: multipart/report; boundary="b"\n\n--b\n'
        b"Content-Type: text/plain\n\n" + line + b"--b\n"
        b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n--b--\n"
    )
    assert _detect(dsn) is None


def test_a_recipient_named_without_a_reply_is_found_without_one() -> None:
    """A sentence "Your message to X was rejected because …", a bare address line,
    "Recipient: [SMTP:X]": the address is found with its sentence as the reply (when that
    decides nothing, the caller takes the notice's reason); our own address after "from"
    and an original pasted inline are never recipients."""
    assert _detect(_bounce(b"Could not deliver to ann@example.org.\n")) == [
        Finding("ann@example.org", "Could not deliver to .", temporary=False)
    ]
    assert _detect(_bounce(b"Failed recipients:\n  ann@example.org\n")) == [
        Finding("ann@example.org", "Failed recipients:", temporary=False)
    ]
    headed = b"Mailbox full:\n   mo@example.org\nUser unknown:\n   ned@example.org\n"
    assert [(f.address, f.diag) for f in _detect(_bounce(headed)) or []] == [
        ("mo@example.org", "Mailbox full:"),
        ("ned@example.org", "User unknown:"),
    ]
    reason_first = b"Unknown address: ian@example.org\nMailbox full: jen@example.org\n"
    assert [(f.address, f.diag) for f in _detect(_bounce(reason_first)) or []] == [
        ("ian@example.org", "Unknown address:"),
        ("jen@example.org", "Mailbox full:"),
    ]
    sentence = b"The message you sent to bo@example.org was rejected because it is spam.\n"
    assert [f.address for f in _detect(_bounce(sentence)) or []] == ["bo@example.org"]
    column = b"\tRecipient: [SMTP:cy@example.org]\n\tReason: The domain is not registered.\n"
    assert [f.address for f in _detect(_bounce(column)) or []] == ["cy@example.org"]
    ours = b"Message from news@sender.example to dee@example.org was rejected:\n  550 5.1.1 no\n"
    assert [f.address for f in _detect(_bounce(ours)) or []] == ["dee@example.org"]
    pasted = (
        b"Could not deliver to eve@example.org: 550 5.1.1 no such user\n\n"
        b"Subject: offers\nFrom: news@sender.example\n\nQuestions? help@sender.example\n"
        b"Reason: 550 we moved.\n"
    )
    assert [f.address for f in _detect(_bounce(pasted)) or []] == ["eve@example.org"]
    quoted = b"fay@example.org\n  Reason: 550 unknown\n\n> From: news@sender.example\n"
    quoted += b"> Reply-To: help@sender.example\n> X-Mailer: PHPMailer 5.2.28\n"
    assert [f.address for f in _detect(_bounce(quoted)) or []] == ["fay@example.org"]


def test_line_endings_do_not_change_the_findings() -> None:
    """LF, CRLF and bare-CR copies of one bounce give the same recipients and replies."""
    raw = _bounce(GMAIL_OLD)
    expected = _detect(raw)
    assert expected
    assert _detect(raw.replace(b"\n", b"\r\n")) == expected
    assert _detect(raw.replace(b"\n", b"\r")) == expected


# ------------------------------------------------------------------ properties

_NOTE = st.from_regex(r"[a-z]{1,8}", fullmatch=True).map(lambda s: f"{s}@note.example")
_ORIG = st.from_regex(r"[a-z]{1,8}", fullmatch=True).map(lambda s: f"{s}@orig.example")
_REPLY = st.sampled_from(["550 5.1.1 User unknown", "452 4.2.2 Over quota", "5.7.1 blocked", ""])
_NOISE = st.text(st.characters(blacklist_characters="@", blacklist_categories=["Cs"]), max_size=40)


def _line(addresses: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    forms = ["{a}: {r}", "<{a}>: host mx[192.0.2.1] said: {r}", "RCPT TO:<{a}>\n<<< {r}", "  {a}"]
    return st.builds(
        lambda form, a, r: form.format(a=a, r=r), st.sampled_from(forms), addresses, _REPLY
    )


_DIVIDERS = [
    "------ This is a copy of the message, including all the headers. ------",
    "----- Original message -----",
    "--- Below this line is a copy of the message.",
    "Original message follows:",
    "Received: from mta1.sender.example by mx.example.net; Mon, 1 Jan 2024 00:00:00 +0000",
]


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_line(_NOTE), _NOISE), max_size=8),
    st.sampled_from([*_DIVIDERS, None]),
    st.lists(st.one_of(_line(_ORIG), _ORIG.map(lambda a: f"To: {a}"), _NOISE), max_size=8),
    st.booleans(),
)
def test_recipients_never_come_from_the_returned_original(
    note: list[str], divider: str | None, original: list[str], failed_header: bool
) -> None:
    """Whatever the notification says, no address of the returned original (after its
    divider, or in a message/rfc822 part) is ever reported, and nothing raises."""
    headers = b"X-Failed-Recipients: x@note.example\n" if failed_header else b""
    text = "\n".join(note).encode()
    orig = "\n".join(original).encode()
    if divider is None:  # the original as a message/rfc822 part
        body = (
            b"--b\nContent-Type: text/plain; charset=utf-8\n\n" + text + b"\n"
            b"--b\nContent-Type: message/rfc822\n\nSubject: x\n\n" + orig + b"\n--b--\n"
        )
        headers += b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n'
    else:
        body = text + b"\n" + divider.encode() + b"\n" + orig + b"\n"
        headers += b"Content-Type: text/plain; charset=utf-8\n"
    raw = _bounce(body, headers=headers)
    for found in (_detect(raw) or [], classify_message(raw).recipients):
        assert not [f for f in found if f.address.endswith("@orig.example")]


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_line(_NOTE), _NOISE, st.sampled_from(_DIVIDERS)), max_size=12))
def test_any_text_never_raises(lines: list[str]) -> None:
    """Any notification text gives a list or None from the reader and a report from the
    classifier, never an exception."""
    raw = _bounce("\n".join(lines).encode("utf-8", "surrogatepass"))
    found = _detect(raw)
    assert found is None or all(isinstance(f, Finding) for f in found)
    assert classify_message(raw).kind in MESSAGE_KINDS


def test_a_hostile_long_address_line_is_read_in_linear_time() -> None:
    """A bounce whose text is one enormous dotted address-like run is classified quickly
    (it took over a minute when the address-line pattern could backtrack)."""
    body = b"<a@" + b"b." * 20_000 + b"> (expanded from <c@" + b"d." * 20_000 + b"> x\n"
    start = time.perf_counter()
    classify_message(_bounce(body))
    assert time.perf_counter() - start < 2.0


def test_a_reply_without_a_code_after_said_or_returned_was_is_the_diagnostic() -> None:
    """A reply without a code, after "Remote host said:" on the line or below "… returned
    was:", is still the diagnostic that decides the class."""
    body = (
        b"Delivery failed for these recipients:\n\n"
        b"ann@example.org\n    Remote host said: Mailbox full\n\n"
        b"bea@example.org\n    The error that the other server returned was:\n"
        b"    User unknown\n"
    )
    assert _classes(_bounce(body)) == [
        ("ann@example.org", "soft", "quota-issues"),
        ("bea@example.org", "hard", "bad-mailbox"),
    ]


def test_a_bounce_whose_own_text_is_empty_reports_nothing_from_its_attached_original() -> None:
    """When the notification part is empty, the generic reader does not fall back to the
    returned original (a message/rfc822 part) for recipients and replies."""
    body = (
        b"--b\nContent-Type: text/plain; charset=utf-8\n\n\n"
        b"--b\nContent-Type: message/rfc822\n\nSubject: x\n\n"
        b"a@orig.example: 550 5.1.1 User unknown\n--b--\n"
    )
    headers = b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n'
    raw = _bounce(body, headers=headers)
    assert not _detect(raw)
    assert not [r for r in classify_message(raw).recipients if r.address == "a@orig.example"]


HTML_ONLY = (
    b"From: MAILER-DAEMON@mx.example.cn\r\n"
    b"To: bounces@sender.example\r\n"
    b"Subject: failure notice\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><head><style>p {color: red}</style></head><body>"
    b"Hi. This is the deliver program at mx.example.cn.<br>"
    b"I'm afraid I wasn't able to deliver your message to the following addresses.<br><br>"
    b"<b>li.na@example.cn</b>: 550 No such user<br>"
    b"<p>zhou&#64;example.cn: 552 Mailbox full</p>"
    b"--- Attachment is a copy of the message.<br></body></html>\r\n"
    b"--b1\r\n"
    b"Content-Type: message/rfc822\r\n\r\n"
    b"Subject: hi\r\nTo: li.na@example.cn\r\n\r\nhello\r\n"
    b"--b1--\r\n"
)


def test_an_html_only_bounce_is_read_line_by_line() -> None:
    """Breaks and blocks of an HTML-only notice are lines; entities are decoded."""
    report = classify_message(HTML_ONLY)
    assert [(r.address, r.cls) for r in report.recipients] == [
        ("li.na@example.cn", "hard"),
        ("zhou@example.cn", "soft"),
    ]


def test_contacts_delivered_addresses_and_our_sender_are_not_recipients() -> None:
    """A help address the notice points to, an address mail WAS delivered to and our
    sender quoted in the reply are never reported as failed recipients."""
    help_line = b"   kim@example.org\n\nPlease forward this message to help@isp.example.\n"
    assert [f.address for f in _detect(_bounce(help_line)) or []] == ["kim@example.org"]
    both = b"It was delivered to amy@example.org but could not be delivered to bob@example.org.\n"
    assert [f.address for f in _detect(_bounce(both)) or []] == ["bob@example.org"]
    sender = b"<xi@example.org>: 550 5.1.8 <news@sender.example>: Sender address rejected\n"
    assert [f.address for f in _detect(_bounce(sender)) or []] == ["xi@example.org"]
    only_contact = (
        b"Rejected: 553 5.3.0 blocked. For assistance forward this error to abuse@isp.example\n"
    )
    assert _detect(_bounce(only_contact)) is None


def test_an_address_in_single_quotes_is_read_without_them() -> None:
    """CommuniGate's "Failed to deliver to 'addr'" names addr, not 'addr'."""
    quoted = b"Failed to deliver to 'eda@example.org'\nSMTP module reports:\n quota\n"
    assert [f.address for f in _detect(_bounce(quoted)) or []] == ["eda@example.org"]


def test_a_recipient_named_in_another_language() -> None:
    """'entregado a X', 'remis à X', 'zugestellt an X': the address a localized sentence
    names is the recipient."""
    for sentence in (
        "El mensaje no pudo ser entregado a ann@example.org.\n",
        "Votre message n'a pas pu être remis à ann@example.org.\n",
        "Die Nachricht konnte nicht zugestellt werden an ann@example.org.\n",
    ):
        found = _detect(_bounce(sentence.encode()))
        assert [f.address for f in found or []] == ["ann@example.org"], sentence

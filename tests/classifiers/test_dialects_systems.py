"""Dialect plug-ins for mail systems behind filtering gateways: IMail, SurfControl, and
Oracle/Sun Messaging Server text notices; each reads its own layout and nothing else.

The inline samples are small bounces written for these tests; the golden corpus
(tests/data/mail) checks the same plug-ins end to end.
"""

from __future__ import annotations

from email.message import Message
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers._mime import body_text, parse_bytes
from classifiers.dialects import (
    Dialect,
    Finding,
    exchange_ndr,
    fml,
    imail,
    mailman,
    sun_messaging,
    surfcontrol,
)
from classifiers.dialects.registry import DIALECTS
from classifiers.message import classify_message
from classifiers.reply import classify_diag
from tests._paths import ROOT as REPO
from tests.classifiers.test_dialects import SAMPLES as OTHER_SAMPLES

MAIL = REPO / "tests" / "data" / "mail"

ORIGINAL = b"""Return-Path: <bounce+ann=example.org@bounces.sender.example>
From: "Example Store" <news@sender.example>
To: <ann@example.org>, <quoted@example.org>
Subject: Spring offers
X-Acctpipe-Rcpt: ann@example.org

Hello, our spring offers are here.
Unknown user: quoted@example.org
Recipient address: quoted@example.org
Addressed To: quoted@example.org
"""


def _detect(dialect: Dialect, raw: bytes) -> list[Finding] | None:
    msg: Message = parse_bytes(raw)
    return dialect.detect(msg, body_text(msg))


def _with_original(headers: bytes, notification: bytes, ctype: bytes = b"multipart/mixed") -> bytes:
    return (
        headers
        + b"MIME-Version: 1.0\nContent-Type: "
        + ctype
        + b'; boundary="b1"\n\n--b1\nContent-Type: text/plain; charset=us-ascii\n\n'
        + notification
        + b"\n--b1\nContent-Type: message/rfc822\n\n"
        + ORIGINAL
        + b"\n--b1--\n"
    )


IMAIL = (
    b"""From: postmaster@imail.example
Subject: Undeliverable Mail
X-Mailer: <IMail v12.5>

Unknown user: ann@imail.example

Body of message generated response:
550 5.1.1 Unknown user:
 ann@imail.example

User mailbox exceeds allowed size: bob@imail.example

Original message follows.

"""
    + ORIGINAL
)

SURFCONTROL = _with_original(
    b"From: postmaster@gw.surf.example\nSubject: Mail could not be delivered\n",
    b"""Your message could not be sent.
A transcript of the attempts to send the message follows.
The number of attempts made: 2
Addressed To: cat@surf.example, <dan@surf.example>

Tue 04 Mar 2025 09:16:29 +0000
Failed to send to identified host,
cat@surf.example: [192.0.2.61], 550 cat@surf.example... No such user
Tue 04 Mar 2025 09:46:29 +0000
Failed to send to identified host, 192.0.2.61: connection timed out
--- Message non-deliverable.
""",
)

SUN = _with_original(
    b"From: Internet Mail Delivery <postmaster@ms.uni.example>\n"
    b"Subject: Delivery Notification: Delivery has failed\n",
    b"""This report relates to a message you sent with the following header fields:

  Message-id: <x1@mta2.sender.example>
  To: <quoted@example.org>
  Subject: Spring offers

Your message cannot be delivered to the following recipients:

  Recipient address: eva@uni.example
  Reason: Remote SMTP server has rejected address
  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias:
    eva@uni.example
  Remote system: dns;mx.uni.example (TCP|192.0.2.41|25|192.0.2.40|51522)

  Recipient address: fin@uni.example
  Original address: fin.berg@uni.example
  Reason: Over quota

Your message has been delayed and is still awaiting delivery
to the following recipients:

  Recipient address: gus@slow.example
  Reason: Unable to connect

Your message has been delivered to the following recipients:

  Recipient address: hal@uni.example
  Reason: Message delivered

Please note: this is an automatically generated notice.
""",
)

MAILMAN = b"""From: news-owner@lists.example.com
Subject: Request to mailing list News rejected

Your request to the News mailing list

    Posting of your message titled "Spring offers"

has been rejected by the list moderator.  The moderator gave the
following reason for rejecting your request:

"Non-members are not allowed to post
messages to this list."

Any questions or comments should be directed to the list administrator
at:

    news-owner@lists.example.com
"""

MAILMAN_HOLD = b"""From: news-owner@lists.example.com
Subject: Your message to News awaits moderator approval
X-BeenThere: news@lists.example.com

Your mail to 'News' with the subject

    Spring offers

Is being held until the list moderator can review it for approval.
"""

EXCHANGE = _with_original(
    b"From: Microsoft Outlook <postmaster@corp.example>\nSubject: Undeliverable: Spring offers\n",
    b"""Delivery has failed to these recipients or groups:

Kim Lee (kim@corp.example)<mailto:kim@corp.example>
The email address you entered couldn't be found.

Diagnostic information for administrators:

Generating server: EX01.corp.example

kim@corp.example
#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

lou@partner.example
Remote Server at mx.partner.example (192.0.2.9) returned '550 5.7.1
 Relaying denied'

Original message headers:

To: <quoted@example.org>
""",
)

EXCHANGE_DELAY_USER_ONLY = b"""From: Microsoft Outlook <postmaster@corp.example>
Subject: Delivery delayed: Spring offers

Delivery is delayed to these recipients or groups:

Mo Ray (mo@corp.example)
This message hasn't been delivered yet. Delivery will continue to be attempted.

Original message headers:

To: <quoted@example.org>
"""

SAMPLES = {
    "exchange-ndr": EXCHANGE,
    "imail": IMAIL,
    "surfcontrol": SURFCONTROL,
    "oracle-messaging": SUN,
    "mailman": MAILMAN,
}
NEW: list[Dialect] = [
    exchange_ndr.DIALECT,
    imail.DIALECT,
    surfcontrol.DIALECT,
    sun_messaging.DIALECT,
    mailman.DIALECT,
]


def test_imail_reads_reason_lines_and_the_following_response() -> None:
    """IMail: one "<reason>: <address>" line per recipient; the "generated following
    response" paragraph (folded lines joined) is that recipient's diagnostic."""
    assert _detect(imail.DIALECT, IMAIL) == [
        Finding("ann@imail.example", "550 5.1.1 Unknown user: ann@imail.example"),
        Finding("bob@imail.example", "User mailbox exceeds allowed size"),
    ]


def test_surfcontrol_pairs_addressed_to_with_its_transcript_reply() -> None:
    """SurfControl: every "Addressed To:" address; the "<addr>: [ip], reply" line is its
    diagnostic, and an address without one gets the last failure line."""
    assert _detect(surfcontrol.DIALECT, SURFCONTROL) == [
        Finding("cat@surf.example", "550 cat@surf.example... No such user"),
        Finding(
            "dan@surf.example",
            "Failed to send to identified host, 192.0.2.61: connection timed out",
        ),
    ]


def test_sun_messaging_reads_blocks_per_section_and_never_the_header_summary() -> None:
    """Messaging Server: failed blocks are failures, delayed ones temporary, delivered
    ones skipped; "Original address" wins; the quoted To: summary is not a recipient."""
    assert _detect(sun_messaging.DIALECT, SUN) == [
        Finding("eva@uni.example", "550 5.1.1 unknown or illegal alias: eva@uni.example"),
        Finding("fin.berg@uni.example", "Over quota"),
        Finding("gus@slow.example", "Unable to connect", temporary=True),
    ]


def test_exchange_ndr_reads_the_administrators_blocks() -> None:
    """Exchange text NDR: each address alone in the administrators' section, with the
    reply between "#" and "##" or inside "returned '…'"; the inline original is not read."""
    assert _detect(exchange_ndr.DIALECT, EXCHANGE) == [
        Finding("kim@corp.example", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"),
        Finding("lou@partner.example", "550 5.7.1 Relaying denied"),
    ]


def test_exchange_ndr_without_administrators_section_uses_the_user_section() -> None:
    """Without diagnostic information, the "Name (address)" lines and the explanation under
    each are used, and a "Delivery is delayed" notice is temporary."""
    assert _detect(exchange_ndr.DIALECT, EXCHANGE_DELAY_USER_ONLY) == [
        Finding(
            "mo@corp.example",
            "This message hasn't been delivered yet. Delivery will continue to be attempted.",
            temporary=True,
        )
    ]


def test_exchange_ndr_reads_french_and_german_headings() -> None:
    """A French NDR (and a German delay) with localised headings is read the same way; a
    "#…##" reply keeps its apostrophes."""
    french = (
        "La remise aux destinataires ou groupes suivants a échoué :\n\n"
        "Informations de diagnostic pour les administrateurs :\n\n"
        "Serveur de génération : EX03.societe.example\n\n"
        "noe@societe.example\n#550 5.1.1 L'adresse n'existe pas ##\n\n"
        "En-têtes de message d'origine :\n\nTo: <quoted@example.org>\n"
    )
    raw = b"From: postmaster@societe.example\nContent-Type: text/plain; charset=utf-8\n\n"
    assert _detect(exchange_ndr.DIALECT, raw + french.encode()) == [
        Finding("noe@societe.example", "550 5.1.1 L'adresse n'existe pas")
    ]
    german = (
        "Die Zustellung an folgende Empfänger oder Gruppen verzögert sich:\n\n"
        "Ute Kern (ute@firma.example)\nDie Nachricht wurde noch nicht zugestellt.\n"
    )
    assert _detect(exchange_ndr.DIALECT, raw + german.encode()) == [
        Finding("ute@firma.example", "Die Nachricht wurde noch nicht zugestellt.", True)
    ]


@pytest.mark.parametrize("name", ["exchange-ndr", "oracle-messaging", "mailman"])
def test_a_person_forwarding_the_notice_text_is_not_a_bounce(name: str) -> None:
    """The same notice text forwarded by a person (their From, "Fw:" subject) is left alone."""
    dialect = next(d for d in DIALECTS if d.name == name)
    body = SAMPLES[name].split(b"\n", 2)[2]
    raw = b"From: Pat Doe <pat@corp.example>\nSubject: Fw: look at this\n" + body
    assert _detect(dialect, SAMPLES[name])
    assert _detect(dialect, raw) is None


def test_mailman_refusal_names_the_list_and_the_moderators_reason() -> None:
    """Mailman: the refused list's posting address (here from the owner address) with the
    moderator's reason; a Mailman 3 list name that is an address is used as is."""
    reason = (
        "rejected by the list moderator: Non-members are not allowed to post messages to this list."
    )
    assert _detect(mailman.DIALECT, MAILMAN) == [Finding("news@lists.example.com", reason)]
    v3 = MAILMAN.replace(b"the News mailing", b"the team@lists.example.org mailing")
    assert _detect(mailman.DIALECT, v3) == [Finding("team@lists.example.org", reason)]


def test_mailman_hold_notice_is_not_a_refusal() -> None:
    """A "held for moderator approval" notice names no failed recipient."""
    assert all(_detect(d, MAILMAN_HOLD) is None for d in DIALECTS)


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_line_endings_do_not_change_what_is_found(name: str, ending: bytes) -> None:
    """CRLF and bare-CR copies of each sample give the same findings as LF."""
    dialect = next(d for d in DIALECTS if d.name == name)
    raw = SAMPLES[name]
    assert _detect(dialect, raw.replace(b"\n", ending)) == _detect(dialect, raw)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_standard_report_part_is_never_claimed(name: str) -> None:
    """The same notice inside a multipart/report with a delivery-status part is left to
    the RFC 3464 parser."""
    dialect = next(d for d in DIALECTS if d.name == name)
    notification = SAMPLES[name].split(b"\n\n", 1)[1]
    raw = (
        b"From: postmaster@mx.example\nSubject: Undeliverable Mail\nX-Mailer: IMail\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="r1"\n\n--r1\nContent-Type: text/plain\n\n'
        + notification
        + b"\n--r1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        b"Final-Recipient: rfc822; ann@example.org\nAction: failed\nStatus: 5.1.1\n\n--r1--\n"
    )
    assert _detect(dialect, raw) is None


# The generic reader claims any bounce with a reply near an address by design (it runs
# last, after every vendor plug-in), so it is left out of the cross-check.
VENDOR = [d for d in DIALECTS if d.name != "generic"]


@pytest.mark.parametrize("dialect", VENDOR, ids=[d.name for d in VENDOR])
@pytest.mark.parametrize("sample", sorted(SAMPLES), ids=sorted(SAMPLES))
def test_only_its_own_dialect_claims_each_sample(dialect: Dialect, sample: str) -> None:
    """Every registered vendor plug-in returns None for these samples except their own."""
    found = _detect(dialect, SAMPLES[sample])
    assert bool(found) == (dialect.name == sample)


@pytest.mark.parametrize("dialect", NEW, ids=[d.name for d in NEW])
@pytest.mark.parametrize("sample", sorted(OTHER_SAMPLES), ids=sorted(OTHER_SAMPLES))
def test_new_dialects_leave_the_older_dialects_samples_alone(dialect: Dialect, sample: str) -> None:
    """The plug-ins of this file do not claim another dialect's bounce."""
    assert _detect(dialect, OTHER_SAMPLES[sample]) is None


@pytest.mark.slow
@pytest.mark.parametrize("dialect", NEW, ids=[d.name for d in NEW])
def test_truncated_notices_never_raise(dialect: Dialect) -> None:
    """Every prefix of every sample gives a list or None, never an exception."""
    for raw in SAMPLES.values():
        for end in range(0, len(raw), 5):
            found = _detect(dialect, raw[:end])
            assert found is None or isinstance(found, list)


FOLDERS = {name: name for name in SAMPLES}
STANDARD_EXCHANGE = sorted((MAIL / "dsn-exchange2016").glob("*.eml"))


@pytest.mark.parametrize("path", STANDARD_EXCHANGE, ids=lambda p: p.name)
def test_exchange_ndr_text_gives_what_the_dropped_dsn_part_gave(path: Path) -> None:
    """An Exchange 2016 NDR whose delivery-status part is dropped gives the same recipients,
    classes and categories as the full report."""
    raw = path.read_bytes()
    stripped = raw.replace(
        b"Content-Type: message/delivery-status", b"Content-Type: text/x-dropped"
    ).replace(b"multipart/report; report-type=delivery-status;", b"multipart/mixed;")
    full, text_only = classify_message(raw), classify_message(stripped)
    assert text_only.detector == "exchange-ndr"
    got = [(r.address, r.cls, r.category) for r in text_only.recipients]
    assert got == [(r.address, r.cls, r.category) for r in full.recipients]


@pytest.mark.parametrize(
    "path",
    [p for folder in FOLDERS for p in sorted((MAIL / folder).glob("*.eml"))],
    ids=lambda p: str(p.relative_to(MAIL)),
)
def test_corpus_notice_is_claimed_first_by_its_dialect(path: Path) -> None:
    """In registry order, the first plug-in to claim a text-only sample is its own; a
    sample with a delivery-status part, a hold notice or an autoresponse is claimed by none."""
    msg = parse_bytes(path.read_bytes())
    text = body_text(msg)
    first = next((d for d in DIALECTS if d.detect(msg, text)), None)
    raw = path.read_text("latin-1")
    not_refusals = ("delivery-status", "awaits moderator approval", "Auto-response for your")
    if any(marker in raw for marker in not_refusals):
        assert first is None
    else:
        assert first is not None
        assert first.name == FOLDERS[path.parent.name]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "553-you are trying to use me [server-7.tower-301.messagelabs.com] as a relay, "
            "but I have not been configured to let you (203.0.113.31) do this.",
            ("soft", "relaying-issues"),
        ),
        (
            "553 Message filtered. Refer to symanteccloud.com/troubleshooting",
            ("spam", "spam-related"),
        ),
        ("User mailbox exceeds allowed size: bob@imail.example", ("soft", "quota-issues")),
        ("Illegal host/domain name found", ("hard", "bad-domain")),
        (
            "rejected by the list moderator: Commercial mail is not accepted",
            ("spam", "policy-related"),
        ),
    ],
)
def test_gateway_and_mail_system_wordings_are_classified(
    reply: str, expected: tuple[str, str]
) -> None:
    """MessageLabs' 'not configured to relay' is a relaying problem, not a spam verdict;
    IMail's mailbox size is a full mailbox; iPlanet's illegal host is a bad domain."""
    verdict = classify_diag(reply, "")
    assert (verdict.cls, verdict.category) == expected


_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "Unknown user: stray@quoted.example",
                "  Recipient address: stray@quoted.example",
                "Addressed To: stray@quoted.example",
                "stray@quoted.example",
                "Remote Server returned '550 5.1.1 stray'",
                "Delivery has failed to these recipients or groups:",
                "Original message follows.",
            ]
        ),
        st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=40),
    ),
    max_size=6,
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(lines=_LINES, name=st.sampled_from(sorted(SAMPLES)))
def test_text_in_the_returned_original_never_changes_the_findings(
    lines: list[str], name: str
) -> None:
    """Whatever the returned original's body says (addresses, another system's
    boilerplate), the plug-in finds the same recipients as without it."""
    dialect = next(d for d in DIALECTS if d.name == name)
    raw = SAMPLES[name]
    if b"Content-Type: message/rfc822" not in raw:
        return  # the original is inline text there: its end marker bounds the notice
    extra = "\n".join(lines).encode()
    changed = raw.replace(b"Hello, our spring offers are here.\n", b"Hi\n" + extra + b"\n")
    assert _detect(dialect, changed) == _detect(dialect, raw)


_MM_HEAD = (
    b"From: members-owner@lists.example.net\nTo: bounces@bounces.sender.example\n"
    b"Subject: Request to mailing list Members rejected\n"
    b"List-Post: <mailto:members@lists.example.net>\nX-Mailman-Version: 2.1.39\n\n"
)


def test_mailman_automatic_refusals_name_the_list_with_the_notices_reason() -> None:
    """Mailman 2's automatic non-member rejection (List-Post names the list) and Mailman 3's
    "was rejected for the following reasons" (only its owner sender names the list)."""
    mm2 = _MM_HEAD + (
        b"You are not allowed to post to this mailing list, and your message has\n"
        b"been automatically rejected.  If you think that your messages are\n"
        b"being rejected in error, contact the mailing list owner at\n"
        b"members-owner@lists.example.net.\n"
    )
    assert _detect(mailman.DIALECT, mm2) == [
        Finding(
            "members@lists.example.net",
            "rejected by the list: You are not allowed to post to this mailing list",
        )
    ]
    mm3 = (
        b"From: team-owner@lists.example.org\nSubject: Your message was rejected\n\n"
        b"Your message to the team mailing-list was rejected for the following\nreasons:\n\n"
        b"The message is not from a list member\n\n"
        b"The original message as received by Mailman is attached.\n"
    )
    found = _detect(mailman.DIALECT, mm3)
    assert found == [
        Finding(
            "team@lists.example.org", "rejected by the list: The message is not from a list member"
        )
    ]
    verdict = classify_diag(found[0].diag, "")
    assert (verdict.cls, verdict.category) == ("spam", "policy-related")


def test_fml_reads_its_japanese_rejection() -> None:
    """fml with MESSAGE_LANGUAGE Japanese: the non-member rejection is read like the English one."""
    notice = (
        "From: kaiwa-admin@ml.example.jp\nSubject: fml status report (kaiwa ML)\n"
        "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "あなたはこのメーリングリスト <kaiwa@ml.example.jp> のメンバーではありません。\n"
        "メンバー以外からの投稿は受け付けていないため、このメールは拒否されました。\n\n"
        "Original mail as follows:\n\nTo: <someone@example.com>\n"
    ).encode()
    found = _detect(fml.DIALECT, notice)
    assert found is not None
    assert [f.address for f in found] == ["kaiwa@ml.example.jp"]
    assert classify_diag(found[0].diag, "").cls == "spam"

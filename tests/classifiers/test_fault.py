"""Whose fault a failure is: the recipient, our sender, our host, the path, the content."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers import classify_message
from classifiers._rules import RuleError, default_table, load_rules
from classifiers.fault import FAULTS, fault_of
from classifiers.reply import SENDER_SUFFIX, classify_diag
from classifiers.types import BOUNCE_CATEGORIES
from tests.classifiers._replies import corpus


@pytest.mark.parametrize(
    ("diag", "fault"),
    [
        ("smtp;550 5.1.7 <bounce@news.example.com>: From: domain is invalid", "sender"),
        ("smtp;550 From: domain is invalid", "sender"),
        (
            "smtp;553 5.1.8 <bounce@news.example.com>: Sender address rejected: Domain not found",
            "sender",
        ),
        ("smtp;550 5.1.7 Invalid address", "sender"),
        ("smtp;550 5.7.27 Sender address has null MX", "sender"),
        ("smtp;550 Mail from 198.51.100.7 refused: my name was rejected", "our-host"),
        ("smtp;550 5.7.1 Helo command rejected: need fully-qualified hostname", "our-host"),
        ("smtp;554 Your HELO name was rejected", "our-host"),
        (
            "smtp;550 5.7.25 The IP address sending this message does not have a PTR record",
            "our-host",
        ),
        (
            "smtp;550 5.7.26 Unauthenticated email from example.com is not accepted due to DMARC",
            "our-host",
        ),
        ("smtp;550 5.7.23 SPF fail - not authorized", "our-host"),
        ("smtp;550 5.7.1 Client not authorised to send on behalf of this domain", "our-host"),
        ("smtp;530 5.7.0 Must issue a STARTTLS command first", "our-host"),
    ],
)
def test_a_refusal_of_our_sender_or_host_is_spam_never_hard(diag: str, fault: str) -> None:
    """A receiver refusing our sender address or our host is class spam, not a dead recipient."""
    verdict = classify_diag(diag)
    assert (verdict.cls, verdict.fault) == ("spam", fault), verdict.rule_id


@pytest.mark.parametrize(
    "diag",
    [
        "smtp;451 4.4.1 Connection timed out",
        "Network is unreachable",
        "smtp;554 5.4.14 Hop count exceeded - possible mail loop",
        "X-Exim; retry timeout exceeded",
        "smtp;550 5.4.7 Delivery time expired",
        "smtp;421 4.4.2 Connection dropped",
    ],
)
def test_a_failure_of_the_path_is_soft_and_the_networks_fault(diag: str) -> None:
    """Timeouts, network errors, expiry and loops are soft and blamed on the path."""
    verdict = classify_diag(diag)
    assert (verdict.cls, verdict.fault) == ("soft", "network"), verdict.rule_id


@pytest.mark.parametrize(
    ("diag", "fault"),
    [
        ("smtp;550 5.1.1 <a@example.com>: Recipient address rejected: User unknown", "recipient"),
        ("smtp;552 5.2.2 Mailbox full", "recipient"),
        ("smtp;554 5.7.1 Message rejected: virus found in attachment", "content"),
        ("smtp;550 5.7.1 Mail is rejected by recipients", "recipient"),
        ("smtp;550 5.0.0 something odd", "unknown"),
        ("smtp;250 2.0.0 OK", "unknown"),
    ],
)
def test_recipient_content_and_unknown_faults(diag: str, fault: str) -> None:
    """The recipient's own failures, content refusals and the unexplained get their fault."""
    assert classify_diag(diag).fault == fault


def test_a_sender_status_overrides_a_recipient_reading_of_the_text() -> None:
    """X.1.7 with text that would read as a bad mailbox is our sender's problem: spam."""
    verdict = classify_diag("smtp;550 5.1.7 Invalid address")
    assert verdict.rule_id.endswith(SENDER_SUFFIX)


def test_no_rule_in_the_default_table_blames_us_and_calls_it_hard() -> None:
    """Every default rule that blames our sender or host is never hard; path rules are soft."""
    for rule in default_table():
        fault = fault_of(rule.category, "", rule.fault)
        if fault in ("sender", "our-host"):
            assert rule.cls != "hard", rule.id
        if fault == "network":
            assert rule.cls == "soft", rule.id


def test_no_corpus_reply_blamed_on_us_or_the_path_is_hard() -> None:
    """Across the reply corpus, only the recipient's failures are ever hard."""
    for reply in corpus():
        verdict = classify_diag(reply.diag, reply.status)
        if verdict.cls == "hard":
            assert verdict.fault == "recipient", (reply.line, verdict)


def test_a_rule_may_say_its_own_fault() -> None:
    """A user rule's fault replaces the fixed mapping; an unknown fault is refused."""
    table = load_rules(
        "[[rule]]\nid = 'mine'\ntext = 'odd'\ncategory = 'other'\nclass = 'soft'\n"
        "fault = 'network'\n"
    )
    assert classify_diag("smtp;451 odd thing", table=table).fault == "network"
    with pytest.raises(RuleError, match="fault 'ours' is not one of recipient"):
        load_rules(
            "[[rule]]\nid = 'bad'\ntext = 'x'\ncategory = 'other'\nclass = 'soft'\nfault = 'ours'\n"
        )


@pytest.mark.slow
@given(
    st.sampled_from(BOUNCE_CATEGORIES),
    st.from_regex(r"\A([245]\.[0-9]{1,3}\.[0-9]{1,3})?\Z"),
)
def test_the_mapping_is_total(category: str, status: str) -> None:
    """Every category and status get one of the six faults."""
    assert fault_of(category, status) in FAULTS


_DSN = b"""From: MAILER-DAEMON@mx.example.net
To: bounce@news.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail system refused the message.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ana@example.net
Action: failed
Status: 5.1.7
Diagnostic-Code: smtp; 550 5.1.7 <bounce@news.example.com>: From: domain is invalid

Final-Recipient: rfc822; bo@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <bo@example.net>: Recipient address rejected: User unknown

--b--
"""


def test_each_recipient_of_a_report_carries_its_fault() -> None:
    """A returned message says, per recipient, whether we or the recipient were refused."""
    report = classify_message(_DSN)
    got = [(r.address, r.cls, r.fault) for r in report.recipients]
    assert got == [("ana@example.net", "spam", "sender"), ("bo@example.net", "hard", "recipient")]

"""DSNs and ARF reports from the simulator are read correctly by classifiers.classify_message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acctpipe.sim import IspSimulator, make_arf, make_dsn, send_report
from classifiers import classify_message
from mta.errors import ConfigError
from tests.acctpipe.sim._client import MESSAGE, send_one

WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
VERP = b"Return-Path: <bounce+bob=isp.test@bounces.sender.test>\r\n"


def _dsn(reply: str, **kw: bool) -> bytes:
    return make_dsn(
        MESSAGE,
        recipient="bob@isp.test",
        reply=reply,
        reporting_mta="mx.isp.test",
        to_addr="news@sender.test",
        date=WHEN,
        **kw,
    )


@pytest.mark.parametrize("include_body", [False, True])
def test_dsn_for_unknown_user_is_a_hard_bad_mailbox(include_body: bool) -> None:
    """A 550 5.1.1 DSN classifies as kind dsn, hard, bad-mailbox, with our X-Acctpipe-Id."""
    report = classify_message(_dsn("550 5.1.1 user unknown", include_body=include_body))
    assert report.kind == "dsn"
    (rcpt,) = report.recipients
    assert (rcpt.address, rcpt.action, rcpt.status) == ("bob@isp.test", "failed", "5.1.1")
    assert (rcpt.cls, rcpt.category) == ("hard", "bad-mailbox")
    assert report.extra["acctpipe_id"] == "q-0001"


def test_dsn_for_a_blocked_ip_is_spam_not_the_address() -> None:
    """A 554 5.7.1 block-list DSN blames the sender's reputation (class spam)."""
    report = classify_message(_dsn("554 5.7.1 Service unavailable; blocked using zen.spamhaus.org"))
    assert report.kind == "dsn"
    assert report.recipients[0].cls == "spam"


def test_dsn_is_deterministic_for_the_same_inputs() -> None:
    """The generator is pure: same arguments, same bytes."""
    assert _dsn("550 5.1.1 x") == _dsn("550 5.1.1 x")
    assert _dsn("550 5.1.1 x") != _dsn("550 5.1.1 y")


def test_arf_with_the_recipient_is_a_complaint() -> None:
    """An abuse report naming Original-Rcpt-To is a complaint for that address."""
    data = make_arf(
        MESSAGE,
        reporting_domain="isp.test",
        to_addr="fbl@sender.test",
        date=WHEN,
        original_mail_from="news@sender.test",
        original_rcpt_to="bob@isp.test",
        source_ip="127.0.0.2",
    )
    report = classify_message(data)
    assert report.kind == "arf"
    assert report.feedback is not None
    assert report.feedback.type == "abuse"
    assert report.feedback.source_ip == "127.0.0.2"
    assert [(r.address, r.cls) for r in report.recipients] == [("bob@isp.test", "complaint")]
    assert report.extra["acctpipe_id"] == "q-0001"


@pytest.mark.parametrize(
    ("original", "how"),
    [(MESSAGE, "x-acctpipe-rcpt"), (VERP + MESSAGE.replace(b"X-Acctpipe-Rcpt", b"X-O"), "verp")],
)
def test_redacted_arf_recipient_is_recovered_from_our_stamps(original: bytes, how: str) -> None:
    """Without Original-Rcpt-To, the recipient comes back from X-Acctpipe-Rcpt or VERP."""
    data = make_arf(original, reporting_domain="isp.test", to_addr="fbl@sender.test", date=WHEN)
    report = classify_message(data)
    assert report.kind == "arf"
    assert report.feedback is not None
    assert report.feedback.recovered_from == how
    assert report.recipients[0].address == "bob@isp.test"


@pytest.mark.slow
async def test_simulator_sends_dsn_and_arf_back_to_the_senders_listener() -> None:
    """send_dsn / send_arf deliver over loopback with a null sender, and classify on arrival."""
    async with IspSimulator("default") as inbound:
        async with IspSimulator("gmail", report_to=("127.0.0.1", inbound.port)) as isp:
            await send_one(isp.port)
            (received,) = isp.messages
            await isp.send_dsn(received, "bob@isp.test", "550 5.1.1 no such user")
            await isp.send_arf(received, "fbl@sender.test")
        dsn, arf = inbound.messages
        assert (dsn.mail_from, dsn.rcpt_tos) == ("", ("news@sender.test",))
        assert classify_message(dsn.data).recipients[0].cls == "hard"
        report = classify_message(arf.data)
        assert report.kind == "arf"
        assert report.recipients[0].address == "bob@isp.test"
        assert report.recipients[0].cls == "complaint"


async def test_send_report_refuses_non_loopback_targets() -> None:
    """Reports are only ever sent to 127.0.0.0/8 or ::1."""
    with pytest.raises(ConfigError, match="not a loopback address"):
        await send_report(b"x", host="192.0.2.1", port=25, rcpt_to="a@b.test")

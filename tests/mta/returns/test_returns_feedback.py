"""Feedback reports and ESP notifications become one accounting record per recipient."""

from __future__ import annotations

from datetime import UTC, datetime

from mta.config import parse_config_text
from mta.returns.intake import ReturnsProcessor
from tests._paths import MAIL

MAIL = MAIL
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
CONFIG = """\
<bounce-processor>
    <address-list>
        address ses-feedback@sender.example
    </address-list>
</bounce-processor>
<feedback-loop-processor>
    <address-list>
        address fbl@sender.example
    </address-list>
</feedback-loop-processor>
"""


def _records(name: str, rcpt: str) -> list[dict[str, object]]:
    rp = ReturnsProcessor(parse_config_text(CONFIG, "returns.conf"))
    return rp.records((MAIL / name).read_bytes(), "", (rcpt,), now=NOW)


def test_an_arf_with_seven_original_rcpt_to_gives_seven_f_records() -> None:
    """Seven people who reported one message are seven f rows, each with the feedback fields."""
    records = _records("arf-standard/abuse-seven-original-rcpt-to-crlf.eml", "fbl@sender.example")
    assert len(records) == 7
    assert len({r["rcpt"] for r in records}) == 7
    for record in records:
        assert (record["type"], record["feedbackType"], record["format"]) == ("f", "abuse", "arf")
        assert (record["orig"], record["sourceIp"]) == ("news@sender.example", "203.0.113.40")


def test_a_mailed_ses_bounce_gives_rb_records_with_status_and_diagnostic() -> None:
    """Each bouncedRecipients entry of a mailed SES notification is an rb row with its reason."""
    records = _records(
        "amazon-ses/sns-email-bounce-two-recipients-crlf.eml", "ses-feedback@sender.example"
    )
    assert [(r["type"], r["rcpt"], r["dsnStatus"], r["bounceCat"]) for r in records] == [
        ("rb", "olga.example@example.net", "5.1.1", "bad-mailbox"),
        ("rb", "Pat.Example@example.org", "5.0.0", "spam-related"),
    ]
    assert str(records[0]["dsnDiag"]).startswith("smtp; 550 5.1.1")
    assert records[0]["dsnMta"] == "192.0.2.161"
    assert records[0]["header_X-Acctpipe-Id"] == "ap1.3c9e07aa51d2b8f4"


def test_a_mailed_ses_complaint_gives_an_f_record_per_complained_recipient() -> None:
    """An SES complaint is an f row per complained recipient, in the amazon-ses format."""
    records = _records(
        "amazon-ses/sns-json-complaint-no-feedback-type-crlf.eml", "fbl@sender.example"
    )
    assert [(r["type"], r["rcpt"], r["feedbackType"], r["format"]) for r in records] == [
        ("f", "tom.example@example.com", "abuse", "amazon-ses"),
        ("f", "una.example@example.com", "abuse", "amazon-ses"),
    ]
    assert records[0]["orig"] == "news@sender.example"

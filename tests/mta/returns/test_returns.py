"""Returned mail → accounting records: the golden corpus, VERP round trips, processor rules."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from acctpipe.sim.reports import make_arf, make_dsn
from mta.acct import DEFAULT_HEADER, AccountingEncoder, Row, read_accounting
from mta.acct.acctfile import AccountingFile
from mta.config import Config, parse_config_text
from mta.delivery.verp import encode_verp
from mta.returns.intake import ReturnsProcessor
from tests._paths import MAIL

MAIL = MAIL
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
CORPUS_BOUNCE = "bounces@bounces.sender.example"  # the corpus's shared envelope sender

CONFIG = """\
<bounce-processor>
    <address-list>
        address /^bounce(s|\\+.*)@bounces\\.(sender\\.)?example(\\.com)?$/
        address postmaster@bounces.example.com
    </address-list>
</bounce-processor>
<feedback-loop-processor>
    deliver-matched-email yes
    <address-list>
        address fbl@example.com
    </address-list>
</feedback-loop-processor>
"""


def _config(extra: str = "") -> Config:
    return parse_config_text(CONFIG + extra, "returns.conf")


def _rows() -> list[dict[str, str]]:
    with (MAIL / "expectations.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


ROWS = _rows()
AUTOREPLY = next(r["file"] for r in ROWS if r["kind"] == "autoreply")


def _expected(row: dict[str, str]) -> list[tuple[str, str, str]]:
    items = [item.split("|") for item in row["recipients"].split(";") if item.strip()]
    return [(a, cls, cat) for a, cls, cat, _fault in items]


def _of_kind(kinds: tuple[str, ...]) -> list[dict[str, str]]:
    return [r for r in ROWS if r["kind"] in kinds]


@pytest.fixture(scope="module")
def processor() -> ReturnsProcessor:
    """One processor for the module: the corpus and round-trip config."""
    return ReturnsProcessor(_config())


# -- the corpus -------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _of_kind(("dsn", "delay")), ids=lambda r: r["file"])
def test_every_corpus_bounce_yields_one_record_per_recipient(
    processor: ReturnsProcessor, row: dict[str, str]
) -> None:
    """Each DSN/delay gives rb (failed) or rs records whose rcpt and bounceCat match the table."""
    records = processor.records(
        (MAIL / row["file"]).read_bytes(), "", (CORPUS_BOUNCE,), now=NOW, peer_ip="192.0.2.7"
    )
    expected = _expected(row)
    assert [r["rcpt"] for r in records] == [a for a, _, _ in expected]
    for record, (_, cls, category) in zip(records, expected, strict=True):
        assert record["type"] == ("rb" if record["dsnAction"] == "failed" else "rs")
        assert (record["timeLogged"], record["orig"]) == (NOW, CORPUS_BOUNCE)
        assert (record["srcType"], record["srcMta"]) == ("smtp", "192.0.2.7")
        if cls == "delivered":
            assert record["type"] == "rs"
            assert "bounceCat" not in record
        else:
            assert record["bounceCat"] == category
        if row["kind"] == "delay":
            assert (record["type"], record["dsnAction"]) == ("rs", "delayed")


@pytest.mark.parametrize("row", _of_kind(("arf",)), ids=lambda r: r["file"])
def test_every_corpus_feedback_report_yields_one_f_record_per_complainer(
    processor: ReturnsProcessor, row: dict[str, str]
) -> None:
    """Each ARF/JMRP/ESP complaint gives one f record per recipient (one if it names nobody)."""
    records = processor.records(
        (MAIL / row["file"]).read_bytes(), "", ("fbl@example.com",), now=NOW
    )
    expected = _expected(row)
    assert [r["rcpt"] for r in records] == ([a for a, _, _ in expected] or [""])
    for record in records:
        assert record["type"] == "f"
        assert record["feedbackType"] == row["feedback_type"]
        assert record["format"] in ("arf", "jmrp", "amazon-ses")
        arrival = record["arrivalDate"]
        assert arrival is None or (isinstance(arrival, datetime) and arrival.tzinfo is not None)


@pytest.mark.parametrize("row", _of_kind(("autoreply", "unknown")), ids=lambda r: r["file"])
def test_auto_replies_and_other_mail_give_no_record(row: dict[str, str]) -> None:
    """Auto-replies, read receipts, people and junk are counted as unmatched, never logged."""
    rp = ReturnsProcessor(_config())
    outcome = rp.process((MAIL / row["file"]).read_bytes(), "", (CORPUS_BOUNCE,), now=NOW)
    assert outcome.records == ()
    assert not outcome.matched
    assert outcome.reason
    assert rp.stats == {row["kind"]: 1, "unmatched": 1}
    assert not outcome.deliver  # deliver-unmatched-email defaults to no


@pytest.mark.slow
def test_corpus_records_are_writable_and_counted() -> None:
    """Every record of the corpus encodes in a PowerMTA file; stats add up to the corpus."""
    rp = ReturnsProcessor(_config())
    encoder = AccountingEncoder((*DEFAULT_HEADER, "header_X-Acctpipe-Id"))
    for row in ROWS:
        for record in rp.records((MAIL / row["file"]).read_bytes(), "", (CORPUS_BOUNCE,), now=NOW):
            assert encoder.encode(record).endswith(b"\r\n")
    kinds = {k: sum(1 for r in ROWS if r["kind"] == k) for k in {r["kind"] for r in ROWS}}
    assert {k: rp.stats[k] for k in kinds} == kinds
    complainers = sum(max(1, len(_expected(r))) for r in ROWS if r["kind"] == "arf")
    assert rp.stats["f"] == complainers
    assert rp.stats["unmatched"] == kinds["autoreply"] + kinds["unknown"]


# -- round trips from the ISP simulator -------------------------------------------------------

RCPT = "Dana.Roe@isp.example"
VERP = encode_verp("bounce@bounces.example.com", RCPT)
ORIGINAL = (
    f"Return-Path: <{VERP}>\r\n"
    "From: News <news@sender.example.com>\r\n"
    f"To: <{RCPT}>\r\n"
    "Subject: November news\r\n"
    "Message-ID: <n1@sender.example.com>\r\n"
    "X-Acctpipe-Id: ap1.0123456789abcdef\r\n"
    f"X-Acctpipe-Rcpt: {RCPT}\r\n"
    "X-Job: november-2026\r\n"
    "\r\n"
    "Hello.\r\n"
).encode()


def _dsn(reply: str, *, to_addr: str = VERP, original: bytes = ORIGINAL) -> bytes:
    return make_dsn(
        original,
        recipient=RCPT,
        reply=reply,
        reporting_mta="mx.isp.example",
        to_addr=to_addr,
        date=NOW,
    )


def test_a_dsn_to_a_verp_address_maps_back_to_recipient_job_and_spool_id(
    processor: ReturnsProcessor,
) -> None:
    """A 5.1.1 DSN gives one rb: our recipient, job, X-Acctpipe-Id, VERP sender, bad-mailbox."""
    (record,) = processor.records(_dsn("550 5.1.1 user unknown"), "", (VERP,), now=NOW)
    assert record["type"] == "rb"
    assert record["rcpt"] == "Dana.Roe@isp.example"
    assert record["orig"] == VERP
    assert (record["jobId"], record["header_X-Acctpipe-Id"]) == (
        "november-2026",
        "ap1.0123456789abcdef",
    )
    assert (record["dsnAction"], record["dsnStatus"]) == ("failed", "5.1.1")
    assert record["dsnDiag"] == "550 5.1.1 user unknown"
    assert (record["dsnMta"], record["bounceCat"]) == ("mx.isp.example", "bad-mailbox")


def test_a_delay_report_is_a_remote_status_not_a_bounce(processor: ReturnsProcessor) -> None:
    """A 4xx delay DSN is logged as rs with action delayed and its category."""
    (record,) = processor.records(_dsn("452 4.2.2 mailbox full"), "", (VERP,), now=NOW)
    assert (record["type"], record["dsnAction"]) == ("rs", "delayed")
    assert record["bounceCat"] == "quota-issues"


def test_a_redacted_complaint_maps_back_to_recipient_and_job(processor: ReturnsProcessor) -> None:
    """An ARF without Original-Rcpt-To still names our recipient, job and spool id."""
    arf = make_arf(
        ORIGINAL,
        reporting_domain="isp.example",
        to_addr="fbl@example.com",
        date=NOW - timedelta(hours=1),
        source_ip="203.0.113.9",
        user_agent="IspFBL/1.0",
    )
    (record,) = processor.records(arf, "feedback@isp.example", ("fbl@example.com",), now=NOW)
    assert record["type"] == "f"
    assert (record["rcpt"], record["orig"]) == ("Dana.Roe@isp.example", VERP)
    assert (record["feedbackType"], record["format"], record["userAgent"]) == (
        "abuse",
        "arf",
        "IspFBL/1.0",
    )
    assert (record["sourceIp"], record["reportedDomain"]) == ("203.0.113.9", "isp.example")
    assert record["arrivalDate"] == NOW - timedelta(hours=1)
    assert (record["jobId"], record["header_X-Acctpipe-Id"]) == (
        "november-2026",
        "ap1.0123456789abcdef",
    )


def test_content_decides_not_the_address() -> None:
    """An ARF sent to a bounce address gives an f record; a DSN sent to the FBL address, rb."""
    rp = ReturnsProcessor(_config())
    arf = make_arf(ORIGINAL, reporting_domain="isp.example", to_addr=VERP, date=NOW)
    at_bounce = rp.process(arf, "", (VERP,), now=NOW)
    assert [r["type"] for r in at_bounce.records] == ["f"]
    assert [p.kind for p in at_bounce.processors] == ["bounce"]
    at_fbl = rp.process(_dsn("550 5.1.1 nope"), "", ("<FBL@Example.com>",), now=NOW)
    assert [r["type"] for r in at_fbl.records] == ["rb"]
    assert [p.kind for p in at_fbl.processors] == ["feedback"]
    assert at_fbl.deliver  # the FBL processor says deliver-matched-email yes
    assert not at_bounce.deliver


def _strip_recipients(dsn: bytes) -> bytes:
    lines = dsn.split(b"\r\n")
    return b"\r\n".join(ln for ln in lines if not ln.startswith((b"Final-Rec", b"Original-Rec")))


def test_a_bounce_that_names_no_recipient_is_recovered_from_the_verp_address() -> None:
    """A DSN whose status part lost its recipients still gives an rb for the VERP recipient."""
    rp = ReturnsProcessor(_config())
    broken = _strip_recipients(_dsn("550 5.1.1 user unknown"))
    (record,) = rp.records(broken, "", (VERP,), now=NOW)
    assert (record["type"], record["rcpt"], record["orig"]) == ("rb", RCPT, VERP)
    # The notice's own text still says why: "user unknown".
    assert (record["dsnAction"], record["bounceCat"]) == ("failed", "bad-mailbox")
    assert record["jobId"] == "november-2026"
    assert rp.stats["recovered-by-verp"] == 1


def test_without_verp_the_recipient_comes_from_our_stamp() -> None:
    """With a shared return path, the original's X-Acctpipe-Rcpt names the recipient."""
    rp = ReturnsProcessor(_config())
    broken = _strip_recipients(_dsn("550 5.1.1 user unknown", to_addr=CORPUS_BOUNCE))
    (record,) = rp.records(broken, "", (CORPUS_BOUNCE,), now=NOW)
    assert (record["rcpt"], record["orig"]) == (RCPT, CORPUS_BOUNCE)
    assert rp.stats["recovered-by-original"] == 1  # the classifier read the stamp
    # No stamp, no VERP return path, a To naming two addresses: nobody in particular.
    unstamped = (
        ORIGINAL.replace(b"X-Acctpipe-Rcpt", b"X-Other")
        .replace(f"Return-Path: <{VERP}>".encode(), b"Return-Path: <news@sender.example.com>")
        .replace(f"To: <{RCPT}>".encode(), b"To: a@example.org, b@example.org")
    )
    nothing = _strip_recipients(_dsn("550 x", to_addr=CORPUS_BOUNCE, original=unstamped))
    assert rp.records(nothing, "", (CORPUS_BOUNCE,), now=NOW) == []


# -- processors, addresses and fields ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rcpt", "local"),
    [
        ("bounce+a=b.example@bounces.example.com", True),
        ("<BOUNCES@bounces.sender.example>", True),
        ("postmaster@BOUNCES.example.com", True),
        ("fbl@example.com", True),
        ("xfbl@example.com", False),
        ("postmaster@example.com", False),
        ("bounce+a=b.example@bounces.example.com.evil.example", False),
        ("", False),
        ("<>", False),
    ],
)
def test_is_local_matches_regexes_and_literals_case_insensitively(rcpt: str, local: bool) -> None:
    """Regex addresses are searched, literals compared whole, both ignoring case."""
    assert ReturnsProcessor(_config()).is_local(rcpt) is local


def test_deliver_unmatched_email_asks_to_relay_what_is_not_a_return() -> None:
    """With deliver-unmatched-email yes, an auto-reply is to be delivered; a DSN is not."""
    cfg = parse_config_text(
        "<bounce-processor>\n deliver-unmatched-email yes\n <address-list>\n"
        "  address b@bounces.example.com\n </address-list>\n</bounce-processor>\n"
    )
    rp = ReturnsProcessor(cfg)
    reply = (MAIL / AUTOREPLY).read_bytes()
    assert rp.process(reply, "a@x.example", ("b@bounces.example.com",), now=NOW).deliver
    dsn = _dsn("550 5.1.1 x", to_addr="b@bounces.example.com")
    assert not rp.process(dsn, "", ("b@bounces.example.com",), now=NOW).deliver
    # A message for no processor address is never ours to deliver.
    assert not rp.process(reply, "a@x.example", ("c@elsewhere.example",), now=NOW).deliver


def test_header_fields_listed_in_an_acct_file_come_from_the_returned_original(
    tmp_path: Path,
) -> None:
    """record-fields header_<Name> for rb/f are filled from the original, names any case."""
    extra = (
        f"<acct-file {tmp_path / 'returns.csv'}>\n records rb,rs,f\n"
        " record-fields rb timeLogged,rcpt,jobId,header_x-acctpipe-id,header_Subject\n"
        " record-fields f rcpt,feedbackType,header_Message-ID\n</acct-file>\n"
    )
    cfg = _config(extra)
    rp = ReturnsProcessor(cfg)
    acct = AccountingFile(cfg.acct_files[0], tmp_path)
    arf = make_arf(ORIGINAL, reporting_domain="isp.example", to_addr="fbl@example.com", date=NOW)
    for raw, to in ((_dsn("550 5.1.1 user unknown"), VERP), (arf, "fbl@example.com")):
        for record in rp.records(raw, "", (to,), now=NOW):
            assert acct.write(record)
    acct.close()
    rows = [e for e in read_accounting(tmp_path / "returns.csv") if isinstance(e, Row)]
    assert [r.type for r in rows] == ["rb", "f"]
    bounce, complaint = rows[0].fields, rows[1].fields
    assert bounce["header_x-acctpipe-id"] == "ap1.0123456789abcdef"
    assert bounce["header_Subject"] == "November news"
    assert (bounce["timeLogged"], bounce["jobId"]) == ("2026-11-25 09:30:00+0000", "november-2026")
    assert complaint["header_Message-ID"] == "<n1@sender.example.com>"
    assert (complaint["rcpt"], complaint["feedbackType"]) == (RCPT, "abuse")


def test_timestamps_keep_their_offset_and_naive_now_is_refused(
    processor: ReturnsProcessor,
) -> None:
    """timeLogged is the aware `now` given; a naive datetime is a caller error."""
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    (record,) = processor.records(_dsn("550 5.1.1 x"), "", (VERP,), now=local)
    assert record["timeLogged"] is local
    with pytest.raises(ValueError, match="timezone-aware"):
        processor.records(b"", "", (VERP,), now=datetime(2026, 1, 1))  # noqa: DTZ001

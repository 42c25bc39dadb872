"""Reading accounting files as a stream: rows, headers, quarantine and exact offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from mta.acct.fields import DEFAULT_FIELDS, DEFAULT_HEADER
from mta.acct.reader import (
    AccountingDecoder,
    AccountingEvent,
    Header,
    MalformedRow,
    Row,
    read_accounting,
)
from mta.acct.timefmt import parse_time
from mta.acct.writer import AccountingEncoder

from ._feeding import CHUNKERS, Chunker, bytewise, feed_chunks, whole
from ._samples import MESSY, MIXED, UNION

B_DIAG = (
    'smtp;550-5.1.1 The email account "jane.doe" does not exist, please check, then retry\r\n'
    "550 5.1.1 https://support.example.net/mail/?p=NoSuchUser"
)

# The expectation table for powermta-mixed.csv: one line per record, in file order.
MIXED_EXPECTED = [
    # type, rcpt,                 status,  bounceCat,             header_X-Campaign
    ("d",   "ann.lee@gmail.com",    "2.0.0", "",                    "spring-sale"),
    ("b",   "jane.doe@example.net", "5.1.1", "bad-mailbox",         "spring, 2026"),
    ("t",   "mo@yahoo.com",         "4.7.0", "spam-related",        "spring-sale"),
    ("tq",  "",                     "4.4.1", "no-answer-from-host", ""),
    ("f",   "kim@aol.com",          "",      "",                    ""),
    ("rb",  "ravi@example.com",     "5.2.2", "quota-issues",        ""),
    ("rs",  "li@example.com",       "4.2.0", "",                    ""),
    ("r",   "ann.lee@gmail.com",    "",      "",                    "spring-sale"),
]  # fmt: skip


def expectation(row: Row) -> tuple[str, ...]:
    """The expectation-table line for a row."""
    f = row.fields
    status = f["dsnStatus"].partition(" ")[0]
    return (row.type, f["rcpt"], status, f["bounceCat"], f["header_X-Campaign"])


def decode(data: bytes, chunker: Chunker = whole, start: int = 0) -> list[AccountingEvent]:
    """All events of ``data`` fed in ``chunker``'s pieces, close() included."""
    return feed_chunks(AccountingDecoder(start), chunker(data))


def rows(events: list[AccountingEvent]) -> list[Row]:
    """Only the rows."""
    return [e for e in events if isinstance(e, Row)]


def malformed(events: list[AccountingEvent]) -> list[MalformedRow]:
    """Only the quarantined records."""
    return [e for e in events if isinstance(e, MalformedRow)]


def assert_offsets_point_at_their_bytes(
    data: bytes, events: list[AccountingEvent], start: int = 0
) -> None:
    """Every event's offset and length cut its own record out of the stream."""
    for event in events:
        raw = data[event.offset - start : event.offset - start + event.length]
        if isinstance(event, MalformedRow):
            assert raw == event.raw
        else:
            assert raw.endswith(b"\n")
            assert raw[: raw.index(b",")].decode() == (
                event.type if isinstance(event, Row) else "type"
            )


# --- PowerMTA fixtures --------------------------------------------------------


def test_powermta_file_with_every_record_type_reads_cleanly() -> None:
    """A PowerMTA file with d, b, t, tq, f, rb, rs and r records yields one Row each, in order."""
    events = decode(MIXED)
    assert isinstance(events[0], Header)
    assert events[0].fields == (*DEFAULT_HEADER, "header_X-Campaign")
    got = [expectation(r) for r in rows(events)]
    assert got == MIXED_EXPECTED
    assert malformed(events) == []
    assert_offsets_point_at_their_bytes(MIXED, events)


def test_quoted_diagnostic_with_commas_quotes_and_newline_is_exact() -> None:
    """A bounce diagnostic with commas, doubled quotes and an embedded CRLF reads back exactly."""
    bounce = rows(decode(MIXED))[1]
    assert bounce.fields["dsnDiag"] == B_DIAG
    assert bounce.fields["dlvEsmtpAvailable"] == "PIPELINING,SIZE"


def test_feedback_record_fills_the_feedback_fields() -> None:
    """An f record carries the ARF fields and leaves the delivery fields empty."""
    report = rows(decode(MIXED))[4]
    assert report.fields["feedbackType"] == "abuse"
    assert report.fields["arrivalDate"] == "Tue, 24 Nov 2026 21:14:03 +0000"
    assert report.fields["dsnDiag"] == ""


def test_unknown_extra_column_is_kept_under_its_name() -> None:
    """A column the header names but we do not know (header_X-Campaign) is kept, not dropped."""
    first = rows(decode(MIXED))[0]
    assert list(first.fields) == [*DEFAULT_HEADER, "header_X-Campaign"]


def test_powermta_file_reencodes_byte_for_byte() -> None:
    """Reading a PowerMTA file and writing its rows back gives the identical bytes."""
    events = decode(MIXED)
    assert isinstance(events[0], Header)
    encoder = AccountingEncoder(events[0].fields)
    rewritten = encoder.header() + b"".join(encoder.encode(r.fields) for r in rows(events))
    assert rewritten == MIXED


def test_union_header_rows_leave_other_types_fields_empty() -> None:
    """In a d+b file, d rows have an empty bounceCat and b rows an empty dlvSourceIp."""
    got = rows(decode(UNION))
    assert [r.type for r in got] == ["d", "d", "b", "b"]
    assert got[0].fields["bounceCat"] == ""
    assert got[0].fields["dlvSourceIp"] == "192.0.2.10"
    assert got[2].fields["dlvSourceIp"] == ""
    assert got[2].fields["bounceCat"] == "bad-mailbox"
    assert parse_time(got[0].fields["timeLogged"]) == parse_time("2026-11-25 07:43:47+0000")


# --- STYLE rule 10: whole, byte by byte, partial trailing record --------------


@pytest.mark.parametrize("chunker", list(CHUNKERS.values()), ids=list(CHUNKERS))
@pytest.mark.parametrize("data", [MIXED, UNION, MESSY], ids=["mixed", "union", "messy"])
def test_any_chunking_gives_the_same_events(data: bytes, chunker: Chunker) -> None:
    """Whole, one byte at a time or split at random, the same input gives the same events."""
    assert decode(data, chunker) == decode(data)


@pytest.mark.parametrize("chunker", [whole, bytewise], ids=["whole", "bytewise"])
def test_offsets_are_exact_and_start_at_start_offset(chunker: Chunker) -> None:
    """Offsets are stream byte offsets counted from start_offset, across chunk boundaries."""
    events = decode(MESSY, chunker, start=1000)
    assert events[0].offset == 1000
    assert_offsets_point_at_their_bytes(MESSY, events, start=1000)


def test_partial_trailing_record_is_held_back_until_complete() -> None:
    """A half-written last line is not returned; offset stops before it until it completes."""
    data = UNION + b"b,1795592650,o@x,late@x,,other\r\n"
    cut = len(data) - 7
    decoder = AccountingDecoder()
    first = decoder.feed(data[:cut])
    assert [r.fields["rcpt"] for r in rows(first)][-1] == "dina@example.org"
    assert decoder.offset == len(UNION)
    assert decoder.pending == data[len(UNION) : cut]
    rest = decoder.feed(data[cut:])
    assert [r.fields["rcpt"] for r in rows(rest)] == ["late@x"]
    assert decoder.offset == len(data)
    assert decoder.pending == b""
    assert decoder.close() == []


def test_quoted_newline_in_the_partial_record_is_held_back() -> None:
    """A record whose quoted field has an LF but no closing quote yet is not cut at that LF."""
    decoder = AccountingDecoder()
    assert decoder.feed(UNION + b'b,1795592650,o@x,a@x,,"multi\n') == decode(UNION)
    assert decoder.offset == len(UNION)
    events = decoder.feed(b'line"\r\n')
    assert [r.fields["bounceCat"] for r in rows(events)] == ["multi\nline"]


def test_close_reports_a_truncated_last_record() -> None:
    """At end of input, a last record without its line end comes back as malformed."""
    decoder = AccountingDecoder()
    decoder.feed(UNION + b"d,1795592650,o@x,cut")
    (event,) = decoder.close()
    assert event == MalformedRow(
        len(UNION), 20, b"d,1795592650,o@x,cut", "truncated record at end of input"
    )
    assert decoder.offset == len(UNION) + 20


def test_close_reports_an_unterminated_quote() -> None:
    """At end of input, an opened quote that never closes is reported as malformed."""
    decoder = AccountingDecoder()
    decoder.feed(UNION + b'b,1795592650,o@x,a@x,,"never closed')
    (event,) = decoder.close()
    assert isinstance(event, MalformedRow)
    assert event.reason == "unterminated quoted field at end of input"
    assert event.raw == b'b,1795592650,o@x,a@x,,"never closed'


def test_unterminated_quote_at_close_spares_the_following_records() -> None:
    """A stray quote found at end of input costs one line; the records after it still parse."""
    stray = b'd,1795592650,o@x,a"b@x,,\n'
    good = b"d,1795592651,o@x,ok@x,,\n"
    events = decode(UNION + stray + good)
    assert malformed(events) == [
        MalformedRow(len(UNION), len(stray), stray, "unterminated quoted field")
    ]
    assert rows(events)[-1].fields["rcpt"] == "ok@x"


@pytest.mark.parametrize("chunker", [whole, bytewise], ids=["whole", "bytewise"])
def test_runaway_quote_is_cut_at_max_record_size(chunker: Chunker) -> None:
    """A stray quote cannot swallow the file: past max_record_size only its line is quarantined."""
    stray = b'd,1795592650,o@x,a"b@x,,\n'
    good = b"".join(b"d,17955926%02d,o@x,ok%02d@x,,\n" % (i, i) for i in range(20))
    decoder = AccountingDecoder(max_record_size=100)
    events = []
    for chunk in chunker(UNION + stray + good):
        events.extend(decoder.feed(chunk))
    # No close(): the tailer's view of a live file.
    assert malformed(events) == [
        MalformedRow(len(UNION), len(stray), stray, "unterminated quoted field")
    ]
    assert len(rows(events)) == 4 + 20
    assert decoder.offset == len(UNION + stray + good)
    assert decoder.pending == b""


# --- headers and the default field set -----------------------------------------


def test_header_mid_file_changes_the_field_list() -> None:
    """A header row anywhere replaces the columns used for the rows after it."""
    data = UNION + b"type,timeLogged,rcpt,dsnDiag\r\nb,1795592660,z@x,smtp;550 no\r\n"
    events = decode(data)
    headers = [e for e in events if isinstance(e, Header)]
    assert [h.fields[-1] for h in headers] == ["bounceCat", "dsnDiag"]
    last = rows(events)[-1]
    assert last.fields == {
        "type": "b",
        "timeLogged": "1795592660",
        "rcpt": "z@x",
        "dsnDiag": "smtp;550 no",
    }


def test_rows_before_any_header_use_the_default_fields() -> None:
    """Without a header, a row is read with PowerMTA's default fields (30, or the base 23)."""
    full = AccountingEncoder(DEFAULT_HEADER).encode(
        {"type": "f", "rcpt": "a@x", "sourceIp": "192.0.2.1"}
    )
    base = AccountingEncoder(DEFAULT_FIELDS).encode({"type": "d", "rcpt": "b@x", "vmtaPool": "p"})
    got = rows(decode(full + base))
    assert got[0].fields["sourceIp"] == "192.0.2.1"
    assert list(got[0].fields) == list(DEFAULT_HEADER)
    assert got[1].fields["vmtaPool"] == "p"
    assert list(got[1].fields) == list(DEFAULT_FIELDS)


def test_headerless_row_of_another_width_is_malformed() -> None:
    """Before any header, a row that fits neither default width is quarantined, saying so."""
    (event,) = decode(b"d,1,2,3\n")
    assert isinstance(event, MalformedRow)
    assert event.reason == "expected 30 fields (default header; no header row yet), got 4"


def test_resuming_with_a_saved_header_uses_it() -> None:
    """A tailer resuming mid-file with its last header reads rows with that header's fields."""
    tail = UNION[UNION.index(b"b,") :]
    fields = ("type", "timeLogged", "orig", "rcpt", "dlvSourceIp", "bounceCat")
    decoder = AccountingDecoder(UNION.index(b"b,"), fields=fields)
    assert decoder.fields == fields
    got = rows(feed_chunks(decoder, [tail]))
    assert [r.fields["bounceCat"] for r in got] == ["bad-mailbox", "policy-related"]
    assert got[0].offset == UNION.index(b"b,")


def test_header_naming_a_field_twice_is_malformed_and_ignored() -> None:
    """A header with a duplicate name is quarantined and the previous header stays in force."""
    events = decode(UNION + b"type,rcpt,rcpt\r\nd,1795592660,o@x,z@x,,\r\n")
    bad = malformed(events)
    assert len(bad) == 1
    assert bad[0].reason == "header names rcpt more than once"
    assert rows(events)[-1].fields["rcpt"] == "z@x"


# --- malformed rows --------------------------------------------------------------


def test_wrong_field_count_is_malformed_with_both_counts() -> None:
    """A row with too few or too many fields is quarantined with both counts; later rows parse."""
    short = b"d,1795592650,o@x\r\n"
    long = b"d,1795592650,o@x,a@x,,,extra\n"
    events = decode(UNION + short + long + b"d,1795592651,o@x,ok@x,,\n")
    assert malformed(events) == [
        MalformedRow(len(UNION), len(short), short, "expected 6 fields (header), got 3"),
        MalformedRow(len(UNION + short), len(long), long, "expected 6 fields (header), got 7"),
    ]
    assert rows(events)[-1].fields["rcpt"] == "ok@x"


def test_unknown_and_empty_record_types_are_malformed() -> None:
    """A row whose type is not PowerMTA's, or is empty, is quarantined with exact bytes."""
    unknown = b"x,1795592650,o@x,a@x,,\r\n"
    empty = b",1795592650,o@x,a@x,,\r\n"
    events = decode(UNION + unknown + empty + b"b,1795592651,o@x,ok@x,,other\r\n")
    assert [(m.offset, m.raw, m.reason) for m in malformed(events)] == [
        (len(UNION), unknown, "unknown record type 'x'"),
        (len(UNION + unknown), empty, "empty record type"),
    ]
    assert rows(events)[-1].fields["bounceCat"] == "other"


def test_junk_after_a_closing_quote_is_malformed() -> None:
    """Text after a closing quote is bad CSV: quarantined, not guessed at."""
    bad = b'b,1795592650,o@x,"a@x"junk,,\r\n'
    events = decode(UNION + bad + b"d,1795592651,o@x,ok@x,,\n")
    (event,) = malformed(events)
    assert event.raw == bad
    assert event.reason.startswith("bad CSV quoting")
    assert rows(events)[-1].fields["rcpt"] == "ok@x"


def test_latin1_diagnostic_does_not_lose_the_row() -> None:
    """8-bit text from a remote server (not UTF-8) still yields the row, read as cp1252."""
    data = UNION + b"b,1795592650,o@x,a@x,,Bo\xeete pleine \x80\r\nb,1795592651,o@x,b@x,,\x81\r\n"
    got = rows(decode(data))
    assert got[-2].fields["bounceCat"] == "Bo\u00eete pleine \u20ac"
    assert got[-1].fields["bounceCat"] == "\x81"  # not in cp1252: read as latin-1


def test_utf8_text_is_read_as_utf8() -> None:
    """UTF-8 text (the normal case) is decoded as UTF-8."""
    got = rows(decode(UNION + "b,1795592650,o@x,j\u00fcrgen@x,,other\r\n".encode()))
    assert got[-1].fields["rcpt"] == "j\u00fcrgen@x"


def test_blank_lines_are_skipped_but_counted_in_offsets() -> None:
    """Blank lines produce no event, and the next record's offset still counts their bytes."""
    events = decode(UNION + b"\r\n\n  \r\nd,1795592650,o@x,a@x,,\r\n")
    assert malformed(events) == []
    assert rows(events)[-1].offset == len(UNION) + 7


def test_lf_and_crlf_both_end_records() -> None:
    """Records may end with CRLF or a bare LF; the CR is not part of the last value."""
    got = rows(decode(b"type,rcpt\nd,a@x\r\nd,b@x\nd,c@x\r\n"))
    assert [r.fields["rcpt"] for r in got] == ["a@x", "b@x", "c@x"]


# --- the file adapter --------------------------------------------------------------


def test_read_accounting_streams_a_file_in_small_chunks(tmp_path: Path) -> None:
    """read_accounting gives the same events as the decoder, whatever the chunk size."""
    path = tmp_path / "acct.csv"
    path.write_bytes(MESSY)
    assert list(read_accounting(path, chunk_size=7)) == decode(MESSY)


def test_read_accounting_resumes_at_an_offset(tmp_path: Path) -> None:
    """read_accounting from a committed offset, with the saved header, reads only the rest."""
    path = tmp_path / "acct.csv"
    path.write_bytes(UNION)
    start = UNION.index(b"b,")
    fields = ("type", "timeLogged", "orig", "rcpt", "dlvSourceIp", "bounceCat")
    got = rows(list(read_accounting(path, start_offset=start, fields=fields)))
    assert [r.offset for r in got] == [start, UNION.index(b"b,", start + 1)]
    assert [r.fields["bounceCat"] for r in got] == ["bad-mailbox", "policy-related"]

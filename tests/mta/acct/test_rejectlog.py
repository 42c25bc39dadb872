"""The reject log: one CSV row per refused SMTP command, same dialect as accounting files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mta.acct.rejectlog import (
    REJECT_FIELDS,
    MalformedRow,
    RejectLogDecoder,
    RejectRecord,
    RejectRow,
    encode_reject,
    encode_reject_header,
)

from ._feeding import CHUNKERS, Chunker, feed_chunks, random_splits

WHEN = datetime(2026, 11, 25, 7, 43, 47, tzinfo=UTC)

RELAY = RejectRecord(
    time_logged=WHEN,
    remote_ip="203.0.113.7",
    remote_port=51234,
    helo="unknown.example",
    mail_from="spammer@example.org",
    rcpt="victim@example.net",
    command="RCPT TO:<victim@example.net>",
    reply="550 5.7.1 Relaying denied, authenticate first",
    reason="relay-denied",
    listener="0.0.0.0:25",
)
AUTH = RejectRecord(
    time_logged=WHEN.astimezone(timezone(timedelta(hours=1))),
    remote_ip="2001:db8::5",
    remote_port=None,
    helo='app "1"',
    command="AUTH LOGIN",
    reply="535 5.7.8 Authentication credentials invalid\r\nplease retry",
    reason="auth-failed",
    auth_user="app1",
    listener="127.0.0.1:587",
)
LOG = encode_reject_header() + encode_reject(RELAY) + encode_reject(AUTH)


def decode(data: bytes, chunks: list[bytes] | None = None) -> list[RejectRow | MalformedRow]:
    """All rows of ``data`` (fed as ``chunks`` if given), close() included."""
    return feed_chunks(RejectLogDecoder(), chunks if chunks is not None else [data])


def test_header_names_the_documented_columns() -> None:
    """The reject log starts with a header naming its eleven columns in order."""
    assert encode_reject_header() == (
        b"timeLogged,remoteIp,remotePort,helo,mailFrom,rcpt,command,reply,reason,authUser,listener\r\n"
    )
    assert len(REJECT_FIELDS) == 11


def test_a_row_is_written_like_an_accounting_row() -> None:
    """A reject row uses PowerMTA's time format, RFC 4180 quoting and CRLF."""
    assert encode_reject(RELAY) == (
        b"2026-11-25 07:43:47+0000,203.0.113.7,51234,unknown.example,spammer@example.org,"
        b"victim@example.net,RCPT TO:<victim@example.net>,"
        b'"550 5.7.1 Relaying denied, authenticate first",relay-denied,,0.0.0.0:25\r\n'
    )


@pytest.mark.parametrize("chunker", list(CHUNKERS.values()), ids=list(CHUNKERS))
def test_records_round_trip_in_any_chunking(chunker: Chunker) -> None:
    """Written records read back equal, whole, byte by byte or split at random."""
    got = decode(LOG, chunker(LOG))
    assert [r.record for r in got if isinstance(r, RejectRow)] == [RELAY, AUTH]
    assert got == decode(LOG)


def test_offsets_locate_each_row() -> None:
    """Each row's offset and length locate its bytes in the log."""
    first, second = decode(LOG)
    header = len(encode_reject_header())
    assert (first.offset, first.length) == (header, len(encode_reject(RELAY)))
    assert (second.offset, second.length) == (header + first.length, len(encode_reject(AUTH)))


def test_partial_trailing_row_is_held_back() -> None:
    """A half-written last row is not returned; offset stops before it until it completes."""
    decoder = RejectLogDecoder()
    assert len(decoder.feed(LOG[:-5])) == 1
    assert decoder.offset == len(LOG) - len(encode_reject(AUTH))
    assert decoder.pending == encode_reject(AUTH)[:-5]
    (row,) = decoder.feed(LOG[-5:])
    assert isinstance(row, RejectRow)
    assert row.record == AUTH
    assert decoder.offset == len(LOG)


def test_truncated_last_row_is_malformed_at_close() -> None:
    """At end of input, a last row without its line end is quarantined."""
    decoder = RejectLogDecoder(start_offset=10)
    decoder.feed(LOG[:-2])
    (event,) = decoder.close()
    assert isinstance(event, MalformedRow)
    assert event.reason == "truncated record at end of input"
    assert event.offset == 10 + len(LOG) - len(encode_reject(AUTH))


@pytest.mark.parametrize(
    ("command", "written"),
    [
        ("AUTH PLAIN AGFwcDEAc2VjcmV0", "AUTH PLAIN"),
        ("auth plain AGFwcDEAc2VjcmV0", "auth plain"),
        ("AUTH LOGIN YXBwMQ==", "AUTH LOGIN"),
        ("AUTH CRAM-MD5", "AUTH CRAM-MD5"),
        ("AUTH", "AUTH"),
        ("AUTH PLAIN\tAGFwcDEAc2VjcmV0 trailing", "AUTH PLAIN"),
        ("MAIL FROM:<a@x> AUTH=<>", "MAIL FROM:<a@x> AUTH=<>"),
        ("AUTHENTICATE", "AUTHENTICATE"),
    ],
)
def test_auth_payloads_never_reach_the_log(command: str, written: str) -> None:
    """An AUTH command is logged with its mechanism only; the credentials are never written."""
    record = RejectRecord(WHEN, "192.0.2.1", 25, command=command)
    (row,) = decode(encode_reject(record))
    assert isinstance(row, RejectRow)
    assert row.record.command == written
    assert b"AGFwcDEAc2VjcmV0" not in encode_reject(record)


def test_auth_payloads_in_a_foreign_log_are_cut_when_read() -> None:
    """A log written elsewhere with an AUTH payload is read with the payload cut off."""
    data = b"2026-11-25 07:43:47+0000,192.0.2.1,25,,,,AUTH PLAIN AGFwcDEAc2VjcmV0,,,,\r\n"
    (row,) = decode(data)
    assert isinstance(row, RejectRow)
    assert row.record.command == "AUTH PLAIN"


def test_naive_time_and_bad_port_are_refused() -> None:
    """A record needs an aware timestamp and a port in 0-65535."""
    with pytest.raises(ValueError, match="timezone-aware"):
        RejectRecord(datetime(2026, 11, 25), "192.0.2.1")  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="65536"):
        RejectRecord(WHEN, "192.0.2.1", 65536)


def test_columns_are_mapped_by_header_name() -> None:
    """A header with reordered, extra or missing columns is followed by name."""
    data = (
        b"timeLogged,listener,remoteIp,futureColumn,reply\r\n"
        b"2026-11-25 07:43:47+0000,0.0.0.0:25,192.0.2.1,whatever,554 5.7.1 go away\r\n"
    )
    (row,) = decode(data)
    assert isinstance(row, RejectRow)
    assert row.record == RejectRecord(
        WHEN, "192.0.2.1", None, listener="0.0.0.0:25", reply="554 5.7.1 go away"
    )


def test_bad_rows_are_malformed_and_later_rows_still_parse() -> None:
    """A bad timestamp, a bad port or a wrong field count is quarantined; the log goes on."""
    good = encode_reject(RELAY)
    bad_time = b"yesterday,192.0.2.1,25,,,,,,,,\r\n"
    bad_port = b"2026-11-25 07:43:47+0000,192.0.2.1,smtp,,,,,,,,\r\n"
    short = b"2026-11-25 07:43:47+0000,192.0.2.1\r\n"
    events = decode(encode_reject_header() + bad_time + bad_port + short + good)
    reasons = [e.reason for e in events if isinstance(e, MalformedRow)]
    assert len(reasons) == 3
    assert "yesterday" in reasons[0]
    assert reasons[1] == "remotePort 'smtp' is not a number"
    assert reasons[2] == "expected 11 fields, got 2"
    assert isinstance(events[-1], RejectRow)
    assert events[-1].record == RELAY


def test_rows_without_a_header_use_the_default_columns() -> None:
    """A log fragment with no header row is read with the documented columns."""
    (row,) = decode(encode_reject(RELAY))
    assert isinstance(row, RejectRow)
    assert row.record == RELAY


texts = st.text(
    alphabet=st.one_of(
        st.sampled_from([",", '"', "\r", "\n", "\u00e9", "'", "=", "+", "-", "@", "\t"]),
        st.characters(codec="utf-8"),
    ),
    max_size=30,
)


@pytest.mark.slow
@given(
    st.builds(
        RejectRecord,
        time_logged=st.just(WHEN),
        remote_ip=texts,
        remote_port=st.none() | st.integers(0, 65535),
        helo=texts,
        mail_from=texts,
        rcpt=texts,
        reply=texts,
        reason=texts,
        auth_user=texts,
        listener=texts,
    ),
    st.integers(0, 2**16),
)
def test_any_record_round_trips(record: RejectRecord, seed: int) -> None:
    """Any text in any column reads back exactly, however the bytes are chunked."""
    data = encode_reject_header() + encode_reject(record)
    (row,) = decode(data, random_splits(data, seed))
    assert isinstance(row, RejectRow)
    assert row.record == record


def test_what_a_client_sends_cannot_run_as_a_formula_in_a_spreadsheet() -> None:
    """A HELO, sender or AUTH user that a spreadsheet would run (``=cmd|...``) is written
    behind a single quote, and reads back exactly as the client sent it."""
    record = RejectRecord(
        time_logged=WHEN,
        remote_ip="203.0.113.7",
        helo="=cmd|' /C calc'!A0",
        mail_from="+1+cmd@example.org",
        rcpt="-2+3@example.net",
        command="@SUM(1+1)*cmd|' /C calc'!A0",
        reply="\t=1+1",
        auth_user="'=already-quoted",
    )
    data = encode_reject_header() + encode_reject(record)
    cells = next(csv.reader(io.StringIO(data.decode().splitlines()[1])))
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert cells[3] == "'=cmd|' /C calc'!A0"
    (row,) = decode(data)
    assert isinstance(row, RejectRow)
    assert row.record == record

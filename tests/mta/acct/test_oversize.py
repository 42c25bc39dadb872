"""Records over the size limit are quarantined whole, in one pass, without being held."""

from __future__ import annotations

import pytest

from acctpipe.ingest.bulk import parse_block
from mta.acct.fields import DEFAULT_HEADER
from mta.acct.reader import AccountingDecoder, Header, MalformedRow, Row
from mta.acct.rejectlog import RejectLogDecoder, RejectRow
from mta.acct.writer import AccountingEncoder

from ._feeding import bytewise, whole

ENC = AccountingEncoder(DEFAULT_HEADER)
LIMIT = 512


def _row(n: int, diag: str = "smtp;250 ok") -> bytes:
    return ENC.encode({"type": "d", "rcpt": f"u{n}@x.test", "dsnDiag": diag})


def _sized(n: int, length: int) -> bytes:
    """Row ``n`` padded through its diagnostic to exactly ``length`` bytes."""
    bare = len(_row(n, ""))
    return _row(n, "x" * (length - bare))


def _chunks(data: bytes, how: str) -> list[bytes]:
    if how == "whole":
        return whole(data)
    if how == "bytewise":
        return bytewise(data)
    return [data[i : i + 7] for i in range(0, len(data), 7)]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["whole", "bytewise", "sevens"])
@pytest.mark.parametrize("bulk", [False, True], ids=["rows", "bulk"])
def test_a_line_over_the_limit_is_quarantined_and_the_next_rows_are_read(
    how: str, bulk: bool
) -> None:
    """A record longer than max_record_size is one quarantine entry (offset, whole length,
    first bytes); a record of exactly the limit is a row; every row after it is read."""
    head = ENC.header()
    at_limit, over = _sized(1, LIMIT), _sized(2, LIMIT * 50 + 3)
    data = head + at_limit + over + _row(3) + _row(4)
    decoder = AccountingDecoder(max_record_size=LIMIT)
    events: list[object] = []
    held = 0
    for chunk in _chunks(data, how):
        got = decoder.feed_bulk(chunk, parse_block) if bulk else decoder.feed(chunk)
        events.extend(got)
        held = max(held, len(decoder.pending))
    assert held <= LIMIT + 7  # the long line was never held whole
    assert decoder.offset == len(data)
    bad = [e for e in events if isinstance(e, MalformedRow)]
    assert bad == [
        MalformedRow(
            len(head + at_limit),
            len(over),
            over[:LIMIT],
            f"record of {len(over)} bytes is over the record size limit (kept: its first bytes)",
        )
    ]
    rcpts = [r.fields["rcpt"] for e in events for r in _rows_of(e)]
    assert rcpts == ["u1@x.test", "u3@x.test", "u4@x.test"]


def _rows_of(event: object) -> list[Row]:
    if isinstance(event, Row):
        return [event]
    frame = getattr(event, "frame", None)
    if frame is None:
        return []
    return [Row(0, 0, "d", {"rcpt": rcpt}) for rcpt in frame.get_column("rcpt").to_list()]


def test_an_over_long_last_line_waits_for_its_end_then_is_quarantined_once() -> None:
    """A long line still being written keeps the offset before it; once complete it is
    quarantined once, and a decoder resuming at the offset agrees."""
    head = ENC.header()
    over = _sized(1, LIMIT * 10)
    data = head + over + _row(2)
    first = AccountingDecoder(max_record_size=LIMIT)
    assert [type(e) for e in first.feed(data[: len(head) + LIMIT * 5])] == [Header]
    assert first.offset == len(head)
    second = AccountingDecoder(first.offset, fields=DEFAULT_HEADER, max_record_size=LIMIT)
    events = second.feed(data[len(head) :])
    assert [type(e) for e in events] == [MalformedRow, Row]
    assert second.offset == len(data)


def test_end_of_input_inside_an_over_long_line_is_quarantined() -> None:
    """A file ending inside a line over the limit reports it as one malformed record."""
    decoder = AccountingDecoder(max_record_size=LIMIT)
    partial = b"d," + b"x" * (LIMIT * 3)
    assert [type(e) for e in decoder.feed(ENC.header() + partial)] == [Header]
    (bad,) = decoder.close()
    assert isinstance(bad, MalformedRow)
    assert (bad.length, bad.raw) == (len(partial), partial[:LIMIT])
    assert bad.reason.endswith("at end of input")


def test_the_reject_log_shares_the_limit() -> None:
    """The reject-log reader quarantines an over-long line the same way and reads on."""
    from mta.acct.rejectlog import encode_reject_header

    header = encode_reject_header()
    decoder = RejectLogDecoder(max_record_size=LIMIT)
    events = decoder.feed(header + b"x" * (LIMIT * 4) + b"\n")
    assert [type(e) for e in events] == [MalformedRow]
    assert isinstance(events[0], MalformedRow)
    assert (events[0].length, events[0].raw) == (LIMIT * 4 + 1, b"x" * LIMIT)
    assert not any(isinstance(e, RejectRow) for e in events)
    assert decoder.offset == len(header) + LIMIT * 4 + 1

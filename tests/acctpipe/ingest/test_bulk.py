"""The loader's fast path (whole runs parsed by polars) gives exactly what the decoder gives.

The row-by-row :class:`~mta.acct.AccountingDecoder` is the spec (STYLE rule 7):
``feed_bulk`` with :func:`parse_block` must yield the same rows, headers,
quarantined records, offsets and pending bytes, whole, in small chunks and
with a partial tail (STYLE rule 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acctpipe.ingest.bulk import RowBlock, block_rows, parse_block
from acctpipe.ingest.frames import events_frame
from mta.acct import AccountingDecoder, AccountingEvent, Row
from tests.mta.acct._feeding import CHUNKERS, Chunker, bytewise, random_splits, whole
from tests.mta.acct._samples import MESSY, MIXED, UNION

Events = list[AccountingEvent]


def reference(chunks: Sequence[bytes], *, close: bool = True) -> tuple[Events, int, bytes]:
    decoder = AccountingDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    if close:
        events.extend(decoder.close())
    return events, decoder.offset, decoder.pending


def fast(chunks: Sequence[bytes], *, close: bool = True) -> tuple[Events, int, bytes, int]:
    """Events with blocks expanded into rows, offset, pending, and how many blocks came."""
    decoder = AccountingDecoder()
    events: Events = []
    blocks = 0
    for chunk in chunks:
        for event in decoder.feed_bulk(chunk, parse_block):
            if isinstance(event, RowBlock):
                blocks += 1
                events.extend(block_rows(event))
            else:
                events.append(event)
    if close:
        events.extend(decoder.close())
    return events, decoder.offset, decoder.pending, blocks


def assert_same(chunks: Sequence[bytes], *, close: bool = True) -> int:
    events, offset, pending, blocks = fast(chunks, close=close)
    assert (events, offset, pending) == reference(chunks, close=close)
    return blocks


HEADER = b"type,timeLogged,orig,rcpt,dsnDiag,header_X-Campaign\r\n"
NARROW = b"type,timeLogged,rcpt\n"

# Pieces of an accounting file: good rows of both widths, and everything the
# quarantine or the row-by-row path must see.
PIECES = st.sampled_from(
    [
        HEADER,
        NARROW,
        b"type,rcpt,rcpt\n",  # duplicate names: malformed, header kept
        b"d,2026-11-25 07:00:00+0000,o@x,a@x,smtp;250 ok,spring\r\n",
        b'b,2026-11-25 07:00:01+0000,o@x,b@x,"smtp;550 5.1.1 no, ""such"" user",\r\n',
        b'b,1795592650,o@x,c@x,"multi\r\nline\ndiag",x\r\n',
        b"t,2026-11-25 07:00:02+0000,o@x,d@x,,\n",  # LF only
        b"d,1795592651,e@x\n",
        b"tq,1795592651,f@x\r\n",
        b"d,short\r\n",  # wrong width
        b"zz,1,o@x,z@x,,\r\n",  # unknown type
        b",1,o@x,z@x,,\r\n",  # empty type
        b'"d",1,o@x,q@x,,\r\n',  # needlessly quoted
        b'd,1,o@x,"q"x,,\r\n',  # junk after a closing quote
        b'd,1,o@x,q"x,,\r\n',  # stray quote: opens a long record
        b"d,1,o@x,caf\xe9@x,,\r\n",  # latin-1
        "d,1,o@x,caf\u00e9@x,,\r\n".encode(),  # UTF-8
        b"\r\n",
        b"   \n",
        b"d,1,o@x,cr@x,,x\r\r\n",  # a CR that is data
    ]
)


@pytest.mark.slow
@pytest.mark.parametrize("chunker", list(CHUNKERS.values()), ids=list(CHUNKERS))
@pytest.mark.parametrize("data", [MIXED, UNION, MESSY], ids=["mixed", "union", "messy"])
def test_fast_path_equals_the_decoder_on_the_fixtures(data: bytes, chunker: Chunker) -> None:
    """On the reader's fixtures, any chunking, the fast path yields the decoder's events."""
    assert_same(chunker(data))


@pytest.mark.slow
@pytest.mark.parametrize("data", [MIXED, UNION, MESSY], ids=["mixed", "union", "messy"])
def test_fast_path_holds_back_a_partial_tail(data: bytes) -> None:
    """A half-written last record stays pending with the same offset as the decoder's."""
    for cut in range(len(data) - 40, len(data)):
        assert_same([data[:cut]], close=False)
        assert_same(random_splits(data[:cut], cut), close=False)


def test_fast_path_parses_powermta_files_in_blocks() -> None:
    """A clean PowerMTA file goes through polars in blocks, not row by row."""
    assert assert_same(whole(MIXED)) == 1


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=40), st.integers(0, 2**32), st.booleans())
def test_fast_path_equals_the_decoder_on_generated_files(
    pieces: list[bytes], seed: int, finish: bool
) -> None:
    """Quoted, multi-line and malformed rows and header changes: same events, any chunking."""
    data = b"".join(pieces)
    assert_same(whole(data), close=finish)
    assert_same(random_splits(data, seed), close=finish)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(st.lists(PIECES, max_size=12))
def test_fast_path_equals_the_decoder_byte_by_byte(pieces: list[bytes]) -> None:
    """Fed one byte at a time, the fast path still yields the decoder's events."""
    assert_same(bytewise(b"".join(pieces)))


@pytest.mark.slow
def test_runaway_quote_falls_back_to_the_decoder() -> None:
    """A stray quote longer than max_record_size is cut back exactly as the decoder does."""
    row = b"d,2026-11-25 07:00:00+0000,o@x,a@x,smtp;250 ok,spring\r\n"
    data = HEADER + b'd,1,o@x,q"x,,\r\n' + row * 3000
    assert_same(whole(data))
    assert_same(random_splits(data, 7), close=False)


def test_block_and_rows_give_the_same_events_frame() -> None:
    """events_frame types a block exactly as it types the same rows one by one."""
    events = AccountingDecoder().feed_bulk(MIXED, parse_block)
    blocks = [e for e in events if isinstance(e, RowBlock)]
    rows: list[Row] = [r for b in blocks for r in block_rows(b)]
    by_block, refused_block = events_frame(blocks, "f.csv", 1)
    by_rows, refused_rows = events_frame(rows, "f.csv", 1)
    assert by_block.equals(by_rows)
    assert refused_block == refused_rows


@pytest.mark.slow
def test_long_quoted_value_that_closes_falls_back_to_the_decoder() -> None:
    """A quoted value spanning lines past max_record_size is quarantined as the decoder does.

    The quote does close, so a CSV parser would read one huge record; the decoder
    cuts the opening line back as a runaway and reads the rows after it.
    """
    row = b"d,2026-11-25 07:00:00+0000,o@x,a@x,smtp;250 ok,spring\r\n"
    data = HEADER + b'd,1,o@x,q@x,"open\r\n' + row * 2000 + b'close",x\r\n' + row * 3
    events, _, _ = reference(whole(data))
    assert any(getattr(e, "reason", "") == "unterminated quoted field" for e in events)
    assert_same(whole(data))
    assert_same(random_splits(data, 11), close=False)

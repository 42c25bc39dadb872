"""The DATA reader: the end marker found across any split, dot-stuffing undone, limits kept."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mta.smtp_server.data import read_data, unstuff


def _stuff(body: bytes) -> bytes:
    """What a client sends for ``body`` (CRLF lines): leading dots doubled, then the marker."""
    lines = body.split(b"\r\n")
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)


async def _read(
    chunks: list[bytes], limit: int | None = None, buffer: int = 2**16
) -> tuple[bytes, str, bytes]:
    reader = asyncio.StreamReader(limit=buffer)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_data(b"QUIT\r\n")
    result = await read_data(reader, limit)
    rest = await reader.readuntil(b"\r\n")
    return result.content, result.problem, rest


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    return [*out, data[last:]]


_LINE = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_BODY = st.lists(_LINE, max_size=20).map(lambda ls: b"".join(line + b"\r\n" for line in ls))


@pytest.mark.slow
@given(_BODY, st.lists(st.integers(min_value=0), max_size=6), st.sampled_from([8, 64, 2**16]))
def test_any_body_split_anywhere_reads_back_exactly(
    body: bytes, cuts: list[int], buffer: int
) -> None:
    """Whole, in random pieces, or past the stream's buffer limit: the body comes back unstuffed."""
    wire = _stuff(body) + b".\r\n"
    content, problem, rest = asyncio.run(_read(_splits(wire, cuts), buffer=buffer))
    assert problem == ""
    assert content == body
    assert rest == b"QUIT\r\n"  # a pipelined next command is left for the session


def test_byte_at_a_time_and_sentences_ending_with_a_dot() -> None:
    """Lines ending in '.' are not the end; '..' lines are unstuffed; one byte at a time works."""
    body = b"Hello.\r\n..\r\n.hidden\r\nend.\r\n"
    wire = _stuff(body) + b".\r\n"
    content, _, _ = asyncio.run(_read([bytes([b]) for b in wire]))
    assert content == body


def test_empty_message_and_unstuff() -> None:
    """A lone '.' right after 354 is an empty message; unstuff removes one leading dot per line."""
    assert asyncio.run(_read([b".\r\n"]))[0] == b""
    assert unstuff(b"..a\r\n..b\r\n") == b".a\r\n.b\r\n"


def test_size_and_line_limits_are_answered_after_the_marker() -> None:
    """Too much data or a line over 1000 octets: reported, nothing kept, stream kept in step."""
    big = b"x" * 50 + b"\r\n"
    content, problem, rest = asyncio.run(_read([big * 10 + b".\r\n"], limit=100))
    assert (content, problem, rest) == (b"", "too-much", b"QUIT\r\n")
    long_line = b"y" * 1200 + b"\r\n.\r\n"
    assert asyncio.run(_read([long_line]))[1] == "too-long"


_ATOM = st.text(alphabet="abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=8)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)


@pytest.mark.slow
@given(
    st.lists(_ATOM, min_size=1, max_size=3).map(".".join),
    st.lists(_LABEL, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["", " SIZE=1000", " BODY=8BITMIME SMTPUTF8", "  "]),
)
def test_address_path_agrees_with_aiosmtpd(local: str, domain: str, params: str) -> None:
    """MAIL/RCPT paths parsed by our grammar equal aiosmtpd's own parser's result."""
    from aiosmtpd.smtp import SMTP

    from mta.smtp_server.grammar import parse_path

    arg = f"<{local}@{domain}>{params}"
    theirs = SMTP._getaddr(SMTP.__new__(SMTP), arg)
    assert parse_path(arg) == (theirs[0], (theirs[1] or "").strip())

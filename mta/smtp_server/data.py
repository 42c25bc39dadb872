"""Reading the DATA of an SMTP transaction in big pieces instead of line by line.

aiosmtpd reads DATA one line at a time (a Python round trip per 76-byte line);
at thousands of messages a second that is most of the listener's CPU. This
reader asks the stream for everything up to the next ``.CRLF`` — one call per
sentence-ending line rather than per line — and checks whether that dot starts
a line (RFC 5321 section 4.1.1.4: the data ends with ``CRLF . CRLF``; the CRLF
that opens it ends the last data line, or is implied right after the 354).
The behaviour is aiosmtpd's: the size limit and the 1000-octet line limit
(RFC 5321 section 4.5.3.1.6) are answered only once the terminator arrives,
and dot-stuffing is undone (section 4.5.2).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["DataResult", "read_data", "unstuff"]

LINE_LIMIT: Final = 1000  # octets, CRLF included (RFC 5321 section 4.5.3.1.6)
_TERMINATOR: Final = b"\r\n.\r\n"

Problem = Literal["", "too-long", "too-much"]


@dataclass(frozen=True, slots=True)
class DataResult:
    """The unstuffed message, or which limit it broke (the content is then empty)."""

    content: bytes
    problem: Problem = ""


def unstuff(data: bytes) -> bytes:
    """Undo dot-stuffing: a line's leading ``.`` is removed (RFC 5321 section 4.5.2)."""
    if data.startswith(b"."):
        data = data[1:]
    return data.replace(b"\r\n.", b"\r\n")


def _line_too_long(data: bytes) -> bool:
    if len(data) <= LINE_LIMIT:
        return False
    return max(map(len, data.split(b"\r\n"))) > LINE_LIMIT - 2


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> DataResult:
    """Read up to the end-of-data marker; never keep more than ``limit`` bytes."""
    pieces: list[bytes] = []
    size = 0
    tail = b"\r\n"  # DATA starts at the beginning of a line
    problem: Problem = ""
    while True:
        try:
            piece = await reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as exc:
            # No ".CRLF" within the stream's buffer limit: take what is there and go on.
            piece = await reader.readexactly(exc.consumed)
            ended = False
        else:
            ended = (tail + piece).endswith(_TERMINATOR) or (tail == b"\r\n" and piece == b".\r\n")
        size += len(piece)
        if limit and size - 3 > limit and not problem:
            problem = "too-much"
        if not problem:
            pieces.append(piece)
        tail = (tail + piece)[-2:]
        if ended:
            break
    if problem:
        return DataResult(b"", problem)
    data = b"".join(pieces)[:-3]  # the terminator's ".CRLF"; its CRLF ends the last line
    if _line_too_long(data):
        return DataResult(b"", "too-long")
    return DataResult(unstuff(data))

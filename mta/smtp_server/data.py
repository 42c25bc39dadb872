"""Reading the DATA of an SMTP transaction in big pieces, without I/O.

:class:`DataReader` is fed whatever bytes arrived and says where the data
ended: one search for ``CRLF . CRLF`` per chunk instead of a Python round trip
per 76-byte line (RFC 5321 section 4.1.1.4: the data ends with
``CRLF . CRLF``; the CRLF that opens it ends the last data line, or is implied
right after the 354). The size limit and the 1000-octet line limit (RFC 5321
section 4.5.3.1.6) are answered only once the terminator arrives, and
dot-stuffing is undone (section 4.5.2). Only ``CRLF . CRLF`` ends the data: a
bare LF or bare CR (``LF . LF``, ``CRLF . LF``, ``CR . CR``: the 2023 SMTP
smuggling variants) is message content, kept as it came, so no second
transaction can hide inside a message (docs/smtp-listener.md says why we keep
rather than refuse it). :func:`read_data` drives it from an
``asyncio.StreamReader`` (for callers that have one).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["DataReader", "DataResult", "read_data", "unstuff"]

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


class DataReader:
    """One message's DATA: feed bytes until :meth:`feed` says where it ended.

    Never keeps more than ``limit`` bytes (None or 0: no limit); past it, the
    rest is only counted and :attr:`result` reports ``too-much``.
    """

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._pieces: list[bytes] = []
        self._size = 0
        self._tail = b"\r\n"  # the last bytes seen: DATA starts at the beginning of a line
        self._over = False
        self.result: DataResult | None = None

    def _take(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._limit and self._size - 3 > self._limit:
            self._over = True
            self._pieces.clear()
        if not self._over:
            self._pieces.append(piece)

    def feed(self, data: bytes) -> int:
        """Take ``data``; return how many of its bytes belong to the message (the end
        marker included) once it ended, else -1 (all of ``data`` was taken)."""
        head = self._tail + data[:4]
        found = head.find(_TERMINATOR)
        if found != -1:
            end = found + 5 - len(self._tail)
        else:
            found = data.find(_TERMINATOR)
            end = found + 5 if found != -1 else -1
        if end == -1:
            self._take(data)
            self._tail = data[-4:] if len(data) >= 4 else (self._tail + data)[-4:]
            return -1
        self._take(data[:end])
        self.result = self._finish()
        return end

    def _finish(self) -> DataResult:
        if self._over or (self._limit and self._size - 3 > self._limit):
            return DataResult(b"", "too-much")
        data = b"".join(self._pieces)[:-3]  # the terminator's ".CRLF"; its CRLF ends the last line
        self._pieces.clear()
        if _line_too_long(data):
            return DataResult(b"", "too-long")
        return DataResult(unstuff(data))


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> DataResult:
    """Read up to the end-of-data marker from ``reader``; never keep more than ``limit`` bytes.

    Reads in pieces that end at ``.CRLF``, so nothing after the marker is taken
    from the stream (a pipelined next command stays there).
    """
    decoder = DataReader(limit)
    while True:
        try:
            piece = await reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as exc:
            # No ".CRLF" within the stream's buffer limit: take what is there and go on.
            piece = await reader.readexactly(exc.consumed)
        if decoder.feed(piece) != -1 and decoder.result is not None:
            return decoder.result

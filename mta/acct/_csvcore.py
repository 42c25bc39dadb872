"""The CSV record core shared by the accounting file and the reject log.

Both files are RFC 4180 CSV, whose grammar (section 2) is::

    file        = [header CRLF] record *(CRLF record) [CRLF]
    record      = field *(COMMA field)
    field       = (escaped / non-escaped)
    escaped     = DQUOTE *(TEXTDATA / COMMA / CR / LF / 2DQUOTE) DQUOTE
    non-escaped = *TEXTDATA

Deliberate leniencies when reading: a bare LF ends a record as well as CRLF,
TEXTDATA is any byte (UTF-8, else cp1252/latin-1) rather than printable ASCII,
and a line of only whitespace is skipped.

Splitting is done on bytes so offsets are exact: the region up to the last LF
is split on LF in C, then pieces are merged while their running count of
``"`` is odd (an LF inside an escaped field). This is exact for RFC 4180
input. A stray quote in a non-escaped field would make the parity swallow the
next lines, so an open record longer than ``max_record_size`` is cut back to
its first line, reported as malformed, and scanning resumes after it.

``max_record_size`` also bounds a single line: a line longer than that is
quarantined whole (its offset and full length, and its first
``max_record_size`` bytes as the raw text) without being held in memory, so a
20 MB diagnostic costs one pass over its bytes, not a parse and a
classification that grow with it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar

DEFAULT_MAX_RECORD_SIZE: Final = 64 * 1024

# A well-formed CSV record as the core hands it on: (offset, length, values,
# body). body is the record's bytes without its final LF, kept for quarantine.
CsvRecord = tuple[int, int, list[str], bytes]
_QuoteState = Literal["closed", "runaway", "open"]


@dataclass(frozen=True, slots=True)
class MalformedRow:
    """A record that could not be read; it belongs in the quarantine.

    ``raw`` is exactly the bytes ``offset`` to ``offset + length`` of the
    stream, line terminator included, so the quarantine can keep them verbatim —
    except for a record over the size limit, whose ``raw`` is its first
    ``max_record_size`` bytes (``length`` is still the whole record's).
    """

    offset: int
    length: int
    raw: bytes
    reason: str


_MUST_QUOTE: Final = frozenset(',"\r\n')


def quote_field(value: str) -> str:
    """Quote ``value`` per RFC 4180 when it holds a comma, quote, CR or LF."""
    if _MUST_QUOTE.isdisjoint(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def encode_row(values: list[str]) -> bytes:
    """Encode one record as UTF-8 CSV terminated by CRLF, as PowerMTA writes it."""
    return (",".join([quote_field(v) for v in values]) + "\r\n").encode("utf-8")


def to_malformed(record: CsvRecord, reason: str) -> MalformedRow:
    """Turn a well-formed CSV record that makes no sense into a :class:`MalformedRow`."""
    offset, length, _, body = record
    return MalformedRow(offset, length, body + b"\n", reason)


def decode_text(body: bytes) -> str:
    """Decode a record's bytes: UTF-8, else cp1252, else latin-1 (which never fails)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Remote servers put 8-bit text in diagnostics; keep the row readable.
    try:
        return body.decode("cp1252")
    except UnicodeDecodeError:
        return body.decode("latin-1")


@dataclass(slots=True)
class _Oversize:
    """A line past ``max_record_size`` being skipped: its first bytes and its length so far."""

    head: bytes
    length: int


class RecordSplitter:
    """Cut a byte stream into CSV records with exact offsets (sans-IO)."""

    def __init__(self, start_offset: int = 0, max_record_size: int = DEFAULT_MAX_RECORD_SIZE):
        self._pending = b""
        self._offset = start_offset
        self._max = max_record_size
        self._oversize: _Oversize | None = None

    @property
    def offset(self) -> int:
        """Stream offset just after the last complete record handed out."""
        return self._offset

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete record."""
        return self._pending

    @property
    def max_record_size(self) -> int:
        """How far an unclosed quote may run before its line is quarantined alone."""
        return self._max

    def skip_to(self, offset: int, pending: bytes) -> None:
        """Resume at ``offset`` holding ``pending``: the caller consumed the records before."""
        self._offset = offset
        self._pending = pending

    @property
    def skipping(self) -> bool:
        """Whether a line longer than ``max_record_size`` is being skipped."""
        return self._oversize is not None

    def feed(self, chunk: bytes) -> list[CsvRecord | MalformedRow]:
        """Add ``chunk``; return the records it completes, in stream order."""
        out: list[CsvRecord | MalformedRow] = []
        if self._oversize is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self._oversize.length += len(chunk)
                return out
            out.append(self._end_oversize(end + 1))
            chunk = chunk[end + 1 :]
        if b"\n" not in chunk:
            self._pending += chunk
        else:
            lines = (self._pending + chunk).split(b"\n")
            tail = lines.pop()
            out.extend(self._take(lines, tail))
        if len(self._pending) > self._max:
            out.extend(self._shed_pending())
        return out

    def _end_oversize(self, rest: int) -> MalformedRow:
        """The over-long line ends ``rest`` bytes into the current chunk: quarantine it."""
        assert self._oversize is not None
        length = self._oversize.length + rest
        row = MalformedRow(self._offset, length, self._oversize.head, _oversize_reason(length))
        self._offset += length
        self._oversize = None
        return row

    def _shed_pending(self) -> list[CsvRecord | MalformedRow]:
        """Pending bytes past ``max_record_size``: stop holding them.

        One incomplete line that long is skipped up to its end (it will be
        quarantined then); an open quote followed by more lines is a runaway, so
        its first line is quarantined alone and the rest scanned again.
        """
        data, self._pending = self._pending, b""
        first, newline, rest = data.partition(b"\n")
        if not newline:
            self._oversize = _Oversize(data[: self._max], len(data))
            return []
        out: list[CsvRecord | MalformedRow] = [
            MalformedRow(self._offset, len(first) + 1, first + b"\n", _UNTERMINATED)
        ]
        self._offset += len(first) + 1
        out.extend(self.feed(rest))
        return out

    def close(self) -> list[CsvRecord | MalformedRow]:
        """End of input: return what is left, incomplete records as malformed."""
        out: list[CsvRecord | MalformedRow] = []
        if self._oversize is not None:
            length = self._oversize.length
            reason = f"{_oversize_reason(length)}, at end of input"
            out.append(MalformedRow(self._offset, length, self._oversize.head, reason))
            self._offset += length
            self._oversize = None
        while self._pending:
            data, self._pending = self._pending, b""
            if b"\n" not in data or data.count(b'"') % 2 == 0:
                # One record that only lacks its line terminator (or its closing quote).
                reason = "unterminated quoted field" if data.count(b'"') % 2 else _TRUNCATED
                out.append(MalformedRow(self._offset, len(data), data, f"{reason} at end of input"))
                self._offset += len(data)
                break
            # The first line opened a quote that never closes: quarantine that line
            # alone and rescan the rest, which may hold good records.
            first, _, rest = data.partition(b"\n")
            out.append(MalformedRow(self._offset, len(first) + 1, first + b"\n", _UNTERMINATED))
            self._offset += len(first) + 1
            out.extend(self.feed(rest))
        return out

    def _take(self, lines: list[bytes], tail: bytes) -> list[CsvRecord | MalformedRow]:
        out: list[CsvRecord | MalformedRow] = []
        # Records with escaped fields go through csv together, once, after the loop:
        # (index in out, offset, length, body, text).
        quoted: list[tuple[int, int, int, bytes, str]] = []
        offset = self._offset
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            if line.count(b'"') % 2 == 0:
                body, i = line, i + 1
            else:
                end, state = self._find_close(lines, i)
                if state == "closed":
                    body, i = b"\n".join(lines[i:end]), end
                elif state == "runaway":
                    # Runaway quote: quarantine the opening line alone, rescan after it.
                    out.append(MalformedRow(offset, len(line) + 1, line + b"\n", _UNTERMINATED))
                    offset, i = offset + len(line) + 1, i + 1
                    continue
                else:
                    break  # an LF inside quotes; wait for the rest of the record
            length = len(body) + 1
            if length > self._max:
                # A record over the limit is quarantined, never parsed or classified.
                out.append(
                    MalformedRow(offset, length, body[: self._max], _oversize_reason(length))
                )
                offset += length
                continue
            if body and not body.isspace():
                text = decode_text(body)
                if text.endswith("\r"):
                    text = text[:-1]
                if '"' in text:
                    quoted.append((len(out), offset, length, body, text))
                    out.append(_PLACEHOLDER)
                else:
                    # No escaped fields: a plain split is exact and much faster than csv.
                    out.append((offset, length, text.split(","), body))
            offset += length
        self._offset = offset
        self._pending = b"\n".join([*lines[i:], tail])
        if quoted:
            parsed = _split_escaped([q[4] for q in quoted])
            for (index, start, length, body, _), values in zip(quoted, parsed, strict=True):
                out[index] = (
                    (start, length, values, body)
                    if isinstance(values, list)
                    else MalformedRow(start, length, body + b"\n", values)
                )
        return out

    def _find_close(self, lines: list[bytes], start: int) -> tuple[int, _QuoteState]:
        """Find the line that closes the quote opened on ``lines[start]``."""
        size = len(lines[start])
        for end in range(start + 1, len(lines)):
            size += len(lines[end]) + 1
            if lines[end].count(b'"') % 2:
                return end + 1, "closed"
            if size > self._max:
                return end + 1, "runaway"
        return len(lines), "open"


_UNTERMINATED: Final = "unterminated quoted field"


def _oversize_reason(length: int) -> str:
    return f"record of {length} bytes is over the record size limit (kept: its first bytes)"


_TRUNCATED: Final = "truncated record"


_PLACEHOLDER: Final[CsvRecord] = (0, 0, [], b"")


def _split_escaped(texts: list[str]) -> Sequence[list[str] | str]:
    """Parse records that contain quotes: their values, or why they are malformed."""
    # strict: junk after a closing quote or a quote left open is an error, not data.
    reader = csv.reader(texts, strict=True)
    try:
        rows = list(reader)
    except csv.Error:
        rows = []
    # csv yields at most one row per element (a bare newline is an error), and
    # an element left inside quotes joins the next; so equal counts mean each
    # record parsed on its own. Otherwise parse one by one to isolate the culprit.
    if len(rows) == len(texts) and reader.line_num == len(texts):
        return rows
    return [_split_one(text) for text in texts]


def _split_one(text: str) -> list[str] | str:
    try:
        return next(csv.reader((text,), strict=True))
    except csv.Error as exc:
        return f"bad CSV quoting: {exc}"


EventT = TypeVar("EventT")


class SplitterDecoder(Generic[EventT]):
    """The streaming part both decoders share: a splitter, its offsets, feed and close.

    Subclasses turn complete records into their own events in ``_interpret``.
    """

    def __init__(self, start_offset: int, max_record_size: int) -> None:
        self._splitter = RecordSplitter(start_offset, max_record_size)

    @property
    def offset(self) -> int:
        """Byte offset just after the last complete record consumed (commit this)."""
        return self._splitter.offset

    @property
    def pending(self) -> bytes:
        """Bytes held back because their record is not complete yet."""
        return self._splitter.pending

    def feed(self, chunk: bytes) -> list[EventT]:
        """Consume ``chunk`` and return the events of every record it completes."""
        return self._interpret(self._splitter.feed(chunk))

    def close(self) -> list[EventT]:
        """Signal end of input; a partial last record comes back as a :class:`MalformedRow`."""
        return self._interpret(self._splitter.close())

    def _interpret(self, records: list[CsvRecord | MalformedRow]) -> list[EventT]:
        raise NotImplementedError

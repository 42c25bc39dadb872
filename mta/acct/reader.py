"""Read PowerMTA accounting files as a stream (sans-IO decoder plus a file adapter).

:class:`AccountingDecoder` takes bytes in any chunking and returns events:
:class:`Header` when a header row (first field ``type``) sets the columns,
:class:`Row` for each record, and :class:`MalformedRow` for anything the
quarantine must keep. ``offset`` is what a tailer commits: the byte just after
the last complete record, so a half-written last line is read again later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mta.acct._bulk import plan_pieces
from mta.acct._csvcore import (
    DEFAULT_MAX_RECORD_SIZE,
    CsvRecord,
    MalformedRow,
    RecordSplitter,
    SplitterDecoder,
    to_malformed,
)
from mta.acct.fields import DEFAULT_FIELDS, DEFAULT_HEADER, RecordType, is_record_type

__all__ = [
    "AccountingDecoder",
    "AccountingEvent",
    "BulkParser",
    "Header",
    "MalformedRow",
    "Row",
    "read_accounting",
]


@dataclass(frozen=True, slots=True)
class Header:
    """A header row: the column names of the records that follow it."""

    offset: int
    length: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Row:
    """One accounting record.

    ``fields`` maps every column of the current header (``type`` included,
    unknown extra columns under their own name) to its text; an empty column
    is ``""``. ``offset`` and ``length`` locate the record's bytes in the stream.
    """

    offset: int
    length: int
    type: RecordType
    fields: dict[str, str]


AccountingEvent = Row | MalformedRow | Header

BlockT = TypeVar("BlockT")
BulkParser = Callable[[tuple[str, ...], int, bytes], BlockT | None]
"""``parse(fields, offset, data)``: a block of rows for ``data`` (whole records at
stream ``offset``, none a header), or ``None`` to have them decoded row by row."""

# Before any header row we accept the default file header, or the 23 base
# fields alone (a file that never held feedback records).
_HEADERLESS = {len(DEFAULT_HEADER): DEFAULT_HEADER, len(DEFAULT_FIELDS): DEFAULT_FIELDS}


class AccountingDecoder(SplitterDecoder[AccountingEvent]):
    """Incremental accounting-file decoder: feed bytes, get events with exact offsets.

    ``start_offset`` is the stream position of the first byte fed and
    ``fields`` the header in force there: a tailer resuming mid-file passes its
    committed offset and the last :class:`Header` it saw. Without ``fields``,
    rows before any header row are read with PowerMTA's default fields.
    ``max_record_size`` bounds how far an unclosed quote may run (see docs).
    """

    def __init__(
        self,
        start_offset: int = 0,
        *,
        fields: Sequence[str] | None = None,
        max_record_size: int = DEFAULT_MAX_RECORD_SIZE,
    ) -> None:
        super().__init__(start_offset, max_record_size)
        self._fields: tuple[str, ...] | None = None if fields is None else tuple(fields)

    @property
    def fields(self) -> tuple[str, ...] | None:
        """The current header's fields, or ``None`` before any header row."""
        return self._fields

    def feed_bulk(self, chunk: bytes, parse: BulkParser[BlockT]) -> list[AccountingEvent | BlockT]:
        """Like :meth:`feed`, but offer each run of complete rows to ``parse`` first.

        A run never crosses a header row, and ``parse`` gets the header in
        force. It must return exactly what :meth:`feed` would give for the run,
        as one block, or ``None``: then the run is decoded row by row. Offsets,
        the pending tail and header changes are the same as with :meth:`feed`.
        """
        splitter = self._splitter
        if splitter.skipping:  # inside a line over the size limit: the splitter skips it
            return list(self.feed(chunk))
        data = splitter.pending + chunk
        planned = plan_pieces(data, splitter.max_record_size)
        if planned is None:
            return list(self.feed(chunk))
        pieces, cut = planned
        base = splitter.offset
        out: list[AccountingEvent | BlockT] = []
        for start, end, may_be_header in pieces:
            block = None
            if not may_be_header and self._fields is not None:
                block = parse(self._fields, base + start, data[start:end])
            if block is not None:
                out.append(block)
            else:
                piece = RecordSplitter(base + start, splitter.max_record_size)
                out.extend(self._interpret(piece.feed(data[start:end])))
        splitter.skip_to(base + cut, data[cut:])
        return out

    def _interpret(self, records: list[CsvRecord | MalformedRow]) -> list[AccountingEvent]:
        out: list[AccountingEvent] = []
        append = out.append
        for record in records:
            if isinstance(record, MalformedRow):
                append(record)
                continue
            offset, length, values, _ = record
            kind = values[0]
            fields = self._fields
            if fields is None:
                fields = _HEADERLESS.get(len(values), DEFAULT_HEADER)
            if len(values) == len(fields) and is_record_type(kind):
                append(Row(offset, length, kind, dict(zip(fields, values, strict=True))))
            elif kind == "type":
                append(self._header(record))
            else:
                append(to_malformed(record, self._reason(values, fields)))
        return out

    def _header(self, record: CsvRecord) -> Header | MalformedRow:
        offset, length, values, _ = record
        if len(set(values)) != len(values):
            twice = sorted({name for name in values if values.count(name) > 1})
            return to_malformed(record, f"header names {', '.join(twice)} more than once")
        self._fields = tuple(values)
        return Header(offset, length, self._fields)

    def _reason(self, values: list[str], fields: tuple[str, ...]) -> str:
        kind = values[0]
        if not kind:
            return "empty record type"
        if not is_record_type(kind):
            return f"unknown record type {kind!r}"
        which = "header" if self._fields is not None else "default header; no header row yet"
        return f"expected {len(fields)} fields ({which}), got {len(values)}"


def read_accounting(
    path: str | os.PathLike[str],
    chunk_size: int = 1 << 20,
    *,
    start_offset: int = 0,
    fields: Sequence[str] | None = None,
) -> Iterator[AccountingEvent]:
    """Stream the events of an accounting file in bounded memory.

    Reads ``chunk_size`` bytes at a time from ``start_offset`` and ends with
    :meth:`AccountingDecoder.close`, so a partial last record is reported as
    malformed. A tailer following a live file uses the decoder directly instead.
    ``start_offset`` and ``fields`` mean what they mean for the decoder.
    """
    decoder = AccountingDecoder(start_offset, fields=fields)
    with Path(path).open("rb") as stream:
        stream.seek(start_offset)
        while chunk := stream.read(chunk_size):
            yield from decoder.feed(chunk)
    yield from decoder.close()

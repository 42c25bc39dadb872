"""Whole runs of accounting rows parsed natively by polars (the fast path of the loader).

:meth:`mta.acct.AccountingDecoder.feed_bulk` hands :func:`parse_block` runs of
complete records under one header. polars' multi-threaded CSV reader parses a
run into string columns; the run is accepted only if re-encoding those values
the way the writer does (RFC 4180: quote a value holding ``,`` ``"`` CR or LF,
double inner quotes) gives back exactly its bytes, every row has a known record
type and the header's width, and the text is UTF-8. Canonical RFC 4180 text
has one reading, the one the row-by-row decoder (the spec) gives, so an
accepted block holds exactly the rows it would; and the per-row byte lengths,
hence offsets, follow from the re-encoding. Anything else (unknown types,
wrong widths, blank lines, odd quoting, 8-bit text, mixed line ends) returns
``None`` and the decoder reads the run row by row, quarantine included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from mta.acct import RECORD_TYPES, Row

__all__ = ["RowBlock", "block_rows", "parse_block"]

_MUST_QUOTE: Final = r'[,"\r\n]'


@dataclass(frozen=True, slots=True)
class RowBlock:
    """Consecutive rows under one header, as columns.

    ``frame`` has one String column per header field (same names, same order);
    ``offsets`` and ``lengths`` (Int64) locate each row's bytes in the stream.
    """

    fields: tuple[str, ...]
    frame: pl.DataFrame
    offsets: pl.Series
    lengths: pl.Series

    @property
    def height(self) -> int:
        """How many rows the block holds."""
        return self.frame.height

    def split(self, at: int) -> tuple[RowBlock, RowBlock]:
        """The block's first ``at`` rows and the rest, as two blocks."""
        frame, offsets, lengths = self.frame, self.offsets, self.lengths
        head = RowBlock(self.fields, frame.head(at), offsets.head(at), lengths.head(at))
        return head, RowBlock(self.fields, frame.slice(at), offsets.slice(at), lengths.slice(at))


def _canonical(column: str) -> pl.Expr:
    value = pl.col(column)
    quoted = pl.concat_str(pl.lit('"'), value.str.replace_all('"', '""', literal=True), pl.lit('"'))
    return pl.when(value.str.contains(_MUST_QUOTE)).then(quoted).otherwise(value)


def parse_block(fields: tuple[str, ...], offset: int, data: bytes) -> RowBlock | None:
    """The rows of ``data`` (whole records at stream ``offset``) as a block, or ``None``."""
    names = [f"c{i}" for i in range(len(fields))]
    try:
        raw = pl.read_csv(
            data,
            has_header=False,
            schema=dict.fromkeys(names, pl.String()),
            empty_string_is_null=False,
            truncate_ragged_lines=False,
            raise_if_empty=False,
            encoding="utf8",
        )
    except pl.exceptions.PolarsError:
        return None  # wrong width, invalid UTF-8 or bad quoting: the row-by-row path decides
    if not raw.height or raw.get_column("c0").is_in(RECORD_TYPES).not_().any():
        return None
    # Only a value holding , " CR or LF is quoted; most columns hold none, so find those
    # that do and leave the rest as they are. A column's values joined end to end hold
    # one of those characters exactly when a value does: one scan, not one per value.
    quoting = raw.select(pl.col(n).str.join("").str.contains(_MUST_QUOTE) for n in names).row(0)
    line = raw.select(
        pl.concat_str(
            [_canonical(n) if q else pl.col(n) for n, q in zip(names, quoting, strict=True)],
            separator=",",
        ).alias("line")
    )
    text = line.get_column("line")
    # A canonical record never ends in a bare CR (a value holding one is quoted), so
    # the line end is CRLF exactly when the data ends so; only that one can match.
    end = "\r\n" if data.endswith(b"\r\n") else "\n"
    # Compare as UTF-8 bytes taken straight from polars: the same bytes as encoding
    # the joined text, without building it as one large Python str first.
    if text.str.join(end).cast(pl.Binary).item() + end.encode() == data:
        lengths = text.str.len_bytes().cast(pl.Int64) + len(end)
        offsets = (lengths.cum_sum() - lengths + offset).alias("offset")
        frame = raw.rename(dict(zip(names, fields, strict=True)))
        return RowBlock(fields, frame, offsets, lengths.alias("length"))
    return None


def block_rows(block: RowBlock) -> list[Row]:
    """The block as :class:`~mta.acct.Row` objects (what the row-by-row decoder gives)."""
    fields = block.fields
    return [
        Row(offset, length, values[0], dict(zip(fields, values, strict=True)))
        for offset, length, values in zip(
            block.offsets.to_list(), block.lengths.to_list(), block.frame.iter_rows(), strict=True
        )
    ]

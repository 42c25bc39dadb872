"""Plan a buffer as runs of whole records for a bulk (columnar) parser; stdlib only.

The row-by-row :class:`~mta.acct._csvcore.RecordSplitter` is the spec. This
module only finds where records start and end, with the same quote-parity rule
(split on LF in C, a line with an odd number of ``"`` opens or closes a quoted
value spanning lines), so that a caller may hand whole runs of rows to a
native CSV parser and fall back to the splitter for anything else.

It refuses (returns ``None``) whenever the splitter's size rules could fire: a
line or a record spanning lines longer than ``max_record_size``, or an open
record at the end longer than that. Then the caller must use the splitter.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Final

__all__ = ["Piece", "plan_pieces"]

Piece = tuple[int, int, bool]
"""``(start, end, may_be_header)``: byte range of whole records in the buffer."""

# A record whose first field is (or, quoted, might be) ``type`` may be a header.
_HEADER_PREFIXES: Final = (b"type", b'"')
# The same, at the start of a line after the first: one regex pass finds both (the
# engine scans for the LF in C), four times faster than a bytes.find per prefix.
_HEADER_START: Final = re.compile(b"\n(?:" + b"|".join(map(re.escape, _HEADER_PREFIXES)) + b")")


def plan_pieces(data: bytes, max_record_size: int) -> tuple[list[Piece], int] | None:
    """Cut ``data`` into pieces of complete records; also return where the pending tail starts.

    Records that may be header rows are pieces of their own (``may_be_header``),
    so a run of rows never crosses a header. ``None``: use the row-by-row splitter.
    """
    last = data.rfind(b"\n")
    if last < 0:
        return None if len(data) > max_record_size else ([], 0)
    if len(data) - last - 1 > max_record_size:
        return None  # the unfinished last line is already over the limit
    lines = data[: last + 1].split(b"\n")
    lines.pop()  # the empty text after the final LF
    if max(map(len, lines)) >= max_record_size:
        return None  # a line over the limit: the splitter quarantines it
    odd = [i for i, line in enumerate(lines) if line.count(b'"') & 1]
    # Byte spans (start of opening line, LF ending closing line) of multi-line records.
    spans: list[tuple[int, int]] = []
    pos, at = 0, 0
    for k in range(0, len(odd) - 1, 2):
        open_line, close_line = odd[k], odd[k + 1]
        pos += sum(map(len, lines[at:open_line])) + (open_line - at)
        size = sum(map(len, lines[open_line : close_line + 1])) + (close_line - open_line)
        if size > max_record_size:
            return None  # the splitter may cut this quote back to one line (a runaway)
        spans.append((pos, pos + size))
        pos, at = pos + size + 1, close_line + 1
    cut = last + 1
    if len(odd) % 2:
        pos += sum(map(len, lines[at : odd[-1]])) + (odd[-1] - at)
        if len(data) - pos > max_record_size:
            return None  # an open quote that may already be a runaway
        cut = pos
    return _pieces(data, cut, spans), cut


def _pieces(data: bytes, cut: int, spans: list[tuple[int, int]]) -> list[Piece]:
    starts = [s for s, _ in spans]
    heads = _line_starts(data, cut)
    pieces: list[Piece] = []
    pos = 0
    for start in heads:
        i = bisect_right(starts, start) - 1
        if start < pos or (i >= 0 and spans[i][0] < start <= spans[i][1]):
            continue  # a continuation line inside a quoted value, not a record start
        end = spans[i][1] + 1 if i >= 0 and spans[i][0] == start else data.index(b"\n", start) + 1
        if start > pos:
            pieces.append((pos, start, False))
        pieces.append((start, end, True))
        pos = end
    if pos < cut:
        pieces.append((pos, cut, False))
    return pieces


def _line_starts(data: bytes, cut: int) -> list[int]:
    """Offsets below ``cut`` of the lines of ``data`` that begin with a header prefix, in order."""
    starts = [match.start() + 1 for match in _HEADER_START.finditer(data, 0, cut)]
    if cut > 0 and data.startswith(_HEADER_PREFIXES):
        starts.insert(0, 0)
    return starts

"""CSV cells a spreadsheet will not run: OWASP's defence against formula injection.

Every CSV the project writes for people to open (the suppression export, the
analytics and SQL results) goes through :func:`csv_line`. A text cell that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read
by Excel, LibreOffice or Google Sheets as a formula — and an RFC 5321 local
part may legally be ``=cmd|' /C calc'!A0``. Such a cell is written with a single
quote in front and inside double quotes (the OWASP "CSV Injection" guidance),
so the spreadsheet shows it as text.

The rule itself (:func:`neutralise`, :func:`restore`) is :mod:`mta.csvsafe`'s,
which the MTA's reject log uses too. The prefix is reversible: a cell that
already begins with quotes followed by one of those characters gets one more
quote, so :func:`restore` (which the import of our own export applies) drops
exactly one and gets back what was written, whatever it was. Cells that are
not text (numbers, times) are passed as :class:`Verbatim` and never prefixed:
``-1.5`` stays a number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from mta.csvsafe import is_active, neutralise, restore

__all__ = ["Verbatim", "csv_line", "neutralise", "restore"]

_NEEDS_QUOTES: Final = re.compile(r'[",\r\n]')


class Verbatim(str):
    """A cell that is not free text (a number, a timestamp): written as it is."""

    __slots__ = ()


def _field(cell: str) -> str:
    if not isinstance(cell, Verbatim) and is_active(cell):
        cell = "'" + cell
        return '"' + cell.replace('"', '""') + '"'  # OWASP: the prefixed cell is also quoted
    if _NEEDS_QUOTES.search(cell):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_line(cells: Iterable[str], end: str = "\n") -> str:
    """One CSV record (RFC 4180 quoting) with every text cell neutralised, ending in ``end``."""
    fields = [_field(c) for c in cells]
    if fields == [""]:
        return '""' + end  # a lone empty field, as the csv module writes it: not a blank line
    return ",".join(fields) + end

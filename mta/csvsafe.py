"""Text cells a spreadsheet will not run: OWASP's defence against CSV formula injection.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read by Excel, LibreOffice or Google Sheets as a formula — and a HELO name,
an address's local part or an AUTH user name sent by anyone on the internet
may begin with one. :func:`neutralise` puts a single quote in front of such a
cell (the OWASP "CSV Injection" guidance), so a spreadsheet shows it as text.

The prefix is reversible: a cell that already begins with quotes followed by
one of those characters gets one more quote, so :func:`restore` drops exactly
one and gets back what was written, whatever it was. The reject log
(:mod:`mta.acct.rejectlog`) and acctpipe's exports use these two.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["is_active", "neutralise", "restore"]

# OWASP's list: = + - @ TAB CR. Quotes in front are part of the pattern so the
# escape stays reversible (a literal "'=x" is written "''=x", read back "'=x").
_ACTIVE: Final = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED: Final = re.compile(r"'+[=+\-@\t\r]")


def is_active(cell: str) -> bool:
    """Whether :func:`neutralise` would change ``cell`` (a spreadsheet might run it)."""
    return _ACTIVE.match(cell) is not None


def neutralise(cell: str) -> str:
    """``cell`` with a single quote in front if a spreadsheet would read it as a formula."""
    return "'" + cell if _ACTIVE.match(cell) else cell


def restore(cell: str) -> str:
    """Undo :func:`neutralise` (a cell it did not change comes back unchanged)."""
    return cell[1:] if _ESCAPED.match(cell) else cell

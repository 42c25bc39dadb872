"""The command line's consoles: they print text as it is, never as markup or emoji codes.

A rich ``Console`` interprets ``[bold]…[/]`` markup and ``:name:`` emoji codes in
every string it prints — table cells included — so user data came out altered:
``root:x:0:0`` printed as ``root❌0:0``, a ``[red]`` in a bounce message vanished.
Every console the CLI makes comes from :func:`make_console`, which turns both off
(and highlighting); styling is given explicitly, with ``style=`` or a
:class:`rich.text.Text`. Our own fixed templates may still use markup through
:func:`styled`, with any data in them passed through :func:`rich.markup.escape`.

Those consoles also show control characters instead of sending them to the
terminal: a bounce text from a remote server, a stored address or a HELO name
may hold ``ESC [2J`` (clear the screen), ``ESC ]0;…`` (retitle the window) or
``ESC ]52;…`` (write the clipboard). Every string they print — table cells
included — has its C0 and C1 control characters but newline and tab written as
``\x1b``-style escapes (:func:`visible`).
"""

from __future__ import annotations

import re
from typing import Any, Final

from rich.console import Console
from rich.text import Text

__all__ = ["make_console", "styled", "visible"]

# C0 controls but tab and newline, DEL, and the C1 controls (ESC's 8-bit forms: CSI, OSC).
_CONTROL: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with every control character but newline and tab shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _LiteralConsole(Console):
    """A console whose strings never carry terminal control sequences (see module doc)."""

    def render_str(self, text: str, **options: Any) -> Text:
        # Every str printed or put in a table cell becomes Text here.
        return super().render_str(visible(text), **options)


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console that prints every string literally: no markup, emoji codes, highlighting or
    terminal control characters."""
    return _LiteralConsole(stderr=stderr, markup=False, emoji=False, highlight=False, **options)


def styled(template: str) -> Text:
    """Our own markup ``template`` as styled text (escape any data inside it first)."""
    return Text.from_markup(template, emoji=False)

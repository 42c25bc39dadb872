"""The command line's consoles: they print text as it is, never as markup or emoji codes.

A rich ``Console`` interprets ``[bold]…[/]`` markup and ``:name:`` emoji codes in
every string it prints — table cells included — so user data came out altered:
``root:x:0:0`` printed as ``root❌0:0``, a ``[red]`` in a bounce message vanished.
Every console the CLI makes comes from :func:`make_console`, which turns both off
(and highlighting); styling is given explicitly, with ``style=`` or a
:class:`rich.text.Text`. Our own fixed templates may still use markup through
:func:`styled`, with any data in them passed through :func:`rich.markup.escape`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["make_console", "styled"]


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console that prints every string literally (no markup, emoji codes or highlighting)."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, **options)


def styled(template: str) -> Text:
    """Our own markup ``template`` as styled text (escape any data inside it first)."""
    return Text.from_markup(template, emoji=False)

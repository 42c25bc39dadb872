"""Lexer: PowerMTA configuration text → a flat list of statements with locations.

The language, as PowerMTA documents it and as we accept it::

    statement = open-tag / close-tag / directive
    open-tag  = "<" name [ WSP argument ] ">"      ; <domain gmail.com>, <bounce-category-patterns>
    close-tag = "</" name ">"                       ; </domain>
    directive = name [ WSP value ]                  ; max-msg-rate 30/s
    comment   = "#" *CHAR                           ; at line start, or after white space

A line ending in a backslash continues on the next line (the statement keeps the
number of its first line). ``#`` inside double quotes or inside a ``/regex/`` token
does not start a comment — a deliberate leniency so patterns and passwords may
contain it. The lexer never raises: problems come back as ``ConfigError`` values
so that ``check-config`` can report every one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mta.config.values import quote_token
from mta.errors import ConfigError

__all__ = ["NAME", "Close", "Directive", "Open", "Statement", "Where", "error_at", "lex"]


@dataclass(frozen=True, slots=True)
class Where:
    """Where a statement was written."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Directive:
    """``name value`` on one logical line; ``text`` is the whole line, for pattern sections."""

    name: str
    value: str
    text: str
    where: Where


@dataclass(frozen=True, slots=True)
class Open:
    """``<tag argument>``."""

    tag: str
    arg: str
    where: Where


@dataclass(frozen=True, slots=True)
class Close:
    """``</tag>``."""

    tag: str
    where: Where


Statement = Directive | Open | Close

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
"""A section tag or directive name."""
_NAME = NAME
# The brace syntax of some blog posts (`domain x { ... }`): a "{" that opens a block,
# as opposed to a named source such as `{auth}`.
_BRACE_BLOCK = re.compile(r"^[A-Za-z][\w.-]*(?:\s+[^{}]*?)?\s*\{(?:\s|$)")


def _strip_comment(line: str) -> str:
    """Cut a ``#`` comment, honouring double quotes and ``/regex/`` tokens."""
    in_quote = False
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        at_token_start = i == 0 or line[i - 1] in " \t"
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "/" and at_token_start:
            # Skip a /regex/ token up to its closing unescaped slash.
            j = i + 1
            while j < n and line[j] != "/":
                j += 2 if line[j] == "\\" else 1
            if j < n:
                i = j
        elif ch == "#" and at_token_start:
            return line[:i]
        i += 1
    return line


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; return (first line number, text) pairs."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        piece = _strip_comment(raw).rstrip()
        if not buf:
            start = number
        if piece.endswith("\\"):
            buf.append(piece[:-1].strip())
            continue
        buf.append(piece.strip())
        out.append((start, " ".join(p for p in buf if p)))
        buf = []
    if buf:
        out.append((start, " ".join(p for p in buf if p)))
    return out


def _tag_shown(line: str) -> str:
    """``line`` for an error when it starts with a tag name, cut short; else not shown at all
    (a line of a file that is no configuration must not be echoed)."""
    words = line.lstrip("<").lstrip("/").split(None, 1)
    name = words[0].rstrip(">") if words else ""
    if _NAME.fullmatch(name) and len(name) <= 40:
        return quote_token(line)
    return "(not shown)"


def lex(text: str, path: str) -> tuple[list[Statement], list[ConfigError]]:
    """Split configuration ``text`` (read from ``path``) into statements and errors."""
    statements: list[Statement] = []
    errors: list[ConfigError] = []
    for number, line in _logical_lines(text):
        if not line:
            continue
        where = Where(path, number)
        if line.startswith("<"):
            if not line.endswith(">"):
                errors.append(error_at(where, f"tag {_tag_shown(line)} is missing its closing '>'"))
                continue
            inner = line[1:-1].strip()
            if inner.startswith("/"):
                tag = inner[1:].strip().lower()
                if not _NAME.fullmatch(tag):
                    errors.append(error_at(where, f"bad closing tag {_tag_shown(line)}"))
                    continue
                statements.append(Close(tag, where))
                continue
            tag, *rest = inner.split(None, 1) or [""]
            arg = rest[0] if rest else ""
            if not _NAME.fullmatch(tag):
                errors.append(error_at(where, f"bad tag {_tag_shown(line)}"))
                continue
            statements.append(Open(tag.lower(), arg.strip(), where))
            continue
        if _BRACE_BLOCK.match(line) or line in ("{", "}"):
            errors.append(
                error_at(
                    where,
                    "brace blocks are not PowerMTA syntax; write <domain NAME> … </domain>, "
                    "<virtual-mta NAME> … </virtual-mta> and so on",
                )
            )
            continue
        name, *rest = line.split(None, 1)
        statements.append(Directive(name.lower(), rest[0] if rest else "", line, where))
    return statements, errors


def error_at(where: Where, message: str, section: str | None = None) -> ConfigError:
    """A :class:`ConfigError` located at ``where`` (``path:line: <section>: message``).

    A message is one line of bounded length whatever the input put in it.
    """
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    return ConfigError(message, path=where.path, line=where.line, section=section)


_MAX_MESSAGE = 300

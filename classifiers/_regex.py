"""The regular-expression subset that Python's ``re`` and Rust's ``regex`` agree on.

Rule patterns run in two engines: ``re`` on the scalar path, Rust ``regex`` (through
polars) on the vectorised path. A pattern must mean the same thing in both, so
:func:`portability_problem` refuses, before either engine sees it:

* look-around ``(?=`` ``(?!`` ``(?<=`` ``(?<!``, atomic groups ``(?>``, conditionals
  ``(?(``, comments ``(?#``, backreferences ``\\1`` ``(?P=name)`` and octal escapes —
  Rust has none of them;
* possessive quantifiers ``*+`` ``++`` ``?+`` ``}+`` — Python 3.11 has them, Rust
  reads ``a*+`` as ``(a*)+``;
* braces that are not a quantifier (``{,3}``, ``{x}``) — literal in Python, an error
  in Rust;
* inline flags other than ``i``, ``m``, ``s`` (``x`` differs in detail, ``U`` means
  "ungreedy" to Rust only);
* escapes outside the shared set (``\\Z``, ``\\z``, ``\\p{..}``, ``\\<``, ``\\N{..}``…), and
  the Unicode classes ``\\b`` ``\\w`` ``\\d`` ``\\s`` (and their negations): Python and Rust
  draw them differently (``\\w`` holds combining marks in Rust, other numbers in Python;
  they follow different Unicode versions) — write ``[0-9]``, ``[a-z0-9_]``, ``[ ]`` or
  ``(^|[^a-z0-9])`` instead;
* the Turkish U+0130 (dotted capital I) and U+0131 (dotless i): the engines case-fold
  them differently, so reply texts have them folded to ``I``/``i``
  (:func:`classifiers.status.normalise_text`) and patterns must say ``i``;
* inside ``[...]``: a nested ``[`` and the ``&&`` ``--`` ``~~`` ``||`` pairs (set
  operations or POSIX classes in Rust, literals with a FutureWarning in Python);
* named groups (pointless in a rule, and spelled differently by the engines).

Case-insensitive matching (``re.IGNORECASE`` / ``(?i)``) agrees otherwise: both use
simple case folding (U+017F long s matches ``s``, U+212A Kelvin sign matches ``k``).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["portability_problem"]

_ESCAPE_LETTERS: Final = frozenset("aftnrvAxuU")
_UNICODE_CLASSES: Final = frozenset("bBdDsSwW")
_TURKISH_I: Final = frozenset("\u0130\u0131")
_FLAGS: Final = frozenset("ims-")
_QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_CLASS_PAIRS: Final = ("&&", "--", "~~", "||")


def _escape_problem(pattern: str, i: int) -> str | None:
    if i + 1 >= len(pattern):
        return "ends with a lone backslash"
    char = pattern[i + 1]
    if char.isdigit():
        return f"backreference or octal escape \\{char} (not in Rust regex)"
    if not char.isascii():
        return f"escaped non-ASCII character \\{char} (an error in Rust regex)"
    if char in _UNICODE_CLASSES:
        return (
            f"\\{char} is drawn differently by Python and Rust; use an explicit class "
            "such as [0-9], [a-z0-9_] or (^|[^a-z0-9])"
        )
    if char.isalpha() and char not in _ESCAPE_LETTERS:
        return f"escape \\{char} is not understood the same way by Python and Rust"
    if char in "<>":
        return f"escape \\{char} is a word boundary in Rust but a literal in Python"
    return None


def _group_problem(pattern: str, i: int) -> str | None:
    rest = pattern[i + 2 :]
    if rest.startswith(("=", "!", "<=", "<!")):
        return "look-around is not supported by Rust regex"
    if rest.startswith(">"):
        return "atomic groups are not supported by Rust regex"
    if rest.startswith("#"):
        return "(?#...) comments are not supported by Rust regex"
    if rest.startswith("("):
        return "conditional groups are not supported by Rust regex"
    if rest.startswith("P="):
        return "backreferences are not supported by Rust regex"
    if rest.startswith("P<"):
        return "named groups are not needed in a rule; use (...) or (?:...)"
    if rest.startswith(":"):
        return None
    flags = ""
    for char in rest:
        if char in ":)":
            break
        flags += char
    bad = sorted(set(flags) - _FLAGS)
    if bad or not flags:
        return f"inline flag group (?{flags}...) — only i, m and s are portable"
    return None


def portability_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not behave the same in Python ``re`` and Rust ``regex``, or None.

    A syntactic check only; the caller still compiles the pattern with ``re`` (and the
    tests compile every default pattern with polars).
    """
    if not pattern:
        return "empty pattern (it would match everything)"
    if _TURKISH_I & set(pattern):
        return "dotted/dotless i (U+0130/U+0131) are folded to I/i in texts; write i"
    i, in_class, class_open = 0, False, -1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            problem = _escape_problem(pattern, i)
            if problem:
                return problem
            i += 2
            continue
        if in_class:
            # "]" right after "[" or "[^" is a literal in both engines.
            first = i == class_open or (i == class_open + 1 and pattern[class_open] == "^")
            if char == "]" and not first:
                in_class = False
            elif char == "[":
                return "'[' inside [...] (a nested class or POSIX class in Rust) — escape it"
            elif pattern.startswith(_CLASS_PAIRS, i):
                return f"{pattern[i : i + 2]!r} inside [...] is a set operation in Rust"
            i += 1
            continue
        if char == "[":
            in_class, class_open = True, i + 1
        elif char == "(" and pattern.startswith("(?", i):
            problem = _group_problem(pattern, i)
            if problem:
                return problem
        elif char == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is None:
                return "'{' that is not a {n}, {n,} or {n,m} quantifier — write \\{"
            i = quantifier.end()
            if pattern.startswith("+", i):
                return "possessive quantifier '}+' is not supported by Rust regex"
            continue
        elif char in "*+?" and pattern.startswith("+", i + 1):
            return f"possessive quantifier '{char}+' is not supported by Rust regex"
        i += 1
    if in_class:
        return "unterminated [...]"
    return None

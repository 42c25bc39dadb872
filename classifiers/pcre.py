"""Translate PowerMTA-style (PCRE) bounce patterns into the portable rule-regex subset.

PowerMTA's ``<bounce-category-patterns>`` are written for PCRE and use the
Unicode-ish shorthands ``\\b \\d \\s \\w`` that our rule engines refuse (Python's
``re`` and Rust's ``regex`` draw them differently; see :mod:`classifiers._regex`).
For the ASCII text of SMTP replies these have exact ASCII spellings, which we
substitute:

* ``\\d`` → ``[0-9]``, ``\\s`` → ``[ \\t\\r\\n\\f\\v]``, ``\\w`` → ``[a-zA-Z0-9_]`` (and the
  negations), inside or outside ``[...]``;
* ``\\b`` → a consuming boundary: ``(^|[^a-zA-Z0-9_])`` before a word character,
  ``([^a-zA-Z0-9_]|$)`` after one. A rule is a yes/no *search*, so this gives the
  same answer as the zero-width ``\\b`` except where two boundaries share one
  separator (``\\bfoo\\b \\bbar\\b``) — rare in bounce patterns; say so where it matters.

What cannot be translated is left alone, for the portability check to refuse
with the pattern's location.
"""

from __future__ import annotations

__all__ = ["translate"]

_CLASS = {"d": "0-9", "s": " \\t\\r\\n\\f\\v", "w": "a-zA-Z0-9_"}
_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def translate(pattern: str) -> str:
    """The portable spelling of a PCRE bounce pattern (see the module docstring)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            esc = pattern[i + 1]
            if esc.lower() in _CLASS:
                body = _CLASS[esc.lower()]
                if in_class:
                    # A negated shorthand inside a class has no simple spelling: keep it.
                    out.append(body if esc.islower() else pattern[i : i + 2])
                else:
                    out.append(f"[{body}]" if esc.islower() else f"[^{body}]")
            elif esc == "b" and not in_class:
                after_word = bool(out) and _ends_with_word(pattern[:i])
                out.append("([^a-zA-Z0-9_]|$)" if after_word else "(^|[^a-zA-Z0-9_])")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class and out and out[-1] not in ("[", "[^"):
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def _ends_with_word(prefix: str) -> bool:
    """Whether the pattern text before a ``\\b`` ends with a literal word character."""
    if not prefix:
        return False
    last = prefix[-1]
    if last in ")?*+}":
        return True  # after a group or quantifier: assume it matched a word
    return last in _WORD and not (len(prefix) >= 2 and prefix[-2] == "\\")

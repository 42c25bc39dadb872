"""A cheap gate before a case-insensitive regex scan of a whole text.

``re.IGNORECASE`` patterns have no literal prefix for the engine to search for, so
a scan tries the pattern at every offset: tens of microseconds on a bounce's text,
asked by several detectors of every message. When every match of a pattern must
contain one of a few literal words, a text that contains none of them (in any case)
cannot match, and ``str.lower`` plus ``in`` says so much faster.

Only ASCII text is gated: there ``str.lower`` folds case exactly as the regex engine
does, whereas for other characters the engine also equates a few pairs that
``str.lower`` does not (the Kelvin sign U+212A and ``k``, the long s U+017F and ``s``),
so such a text always goes on to the regex.
"""

from __future__ import annotations

__all__ = ["may_contain"]


def may_contain(text: str, needles: tuple[str, ...]) -> bool:
    """False only when ASCII ``text`` holds none of ``needles`` (lower-case) in any case."""
    if not text.isascii():
        return True
    low = text.lower()
    return any(needle in low for needle in needles)

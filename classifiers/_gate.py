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

The dialect plug-ins ask about the same notification text in turn, so the lower-cased
copy of the last text asked about is kept (by identity: the plug-ins share one string
object per message), and each further gate costs only its ``in`` tests.
"""

from __future__ import annotations

__all__ = ["may_contain"]

# (the last text asked about, its lower-cased copy or None when it is not ASCII); one
# tuple, replaced whole, so a thread never pairs one text with another's copy.
_last: tuple[str, str | None] = ("", "")


def may_contain(text: str, needles: tuple[str, ...]) -> bool:
    """False only when ASCII ``text`` holds none of ``needles`` (lower-case) in any case."""
    global _last  # a one-entry memo
    last = _last
    if last[0] is text:
        low = last[1]
    else:
        low = text.lower() if text.isascii() else None
        _last = (text, low)
    if low is None:
        return True
    return any(needle in low for needle in needles)

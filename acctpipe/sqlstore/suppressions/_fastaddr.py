"""The everyday address, normalised in one regex: the import's shortcut past the validator.

:meth:`SuppressionStore.normalise` runs :func:`mta.address.check_mailbox` and then
makes the key, about 10 µs an address. Most addresses in a list are plain ASCII
dot-strings at host names; for those both steps reduce to "it matches, lower-case
it". :func:`everyday` answers exactly those and hands everything else (quoted local
parts, IDN, address literals, brackets, punycode labels, odd lengths) to the full
path, so its result is always the one the full path gives (a test checks it).

The pattern is RFC 5321 section 4.1.2's ``Mailbox`` narrowed to::

    Dot-string = Atom *("." Atom)       ; Atom = 1*atext (ASCII only)
    Domain     = sub-domain *("." sub-domain)
    sub-domain = Let-dig [Ldh-str]      ; at most 63 characters, not "xn--…"

with the lengths of section 4.5.3.1 (local part 64, mailbox 254 octets).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["everyday"]

_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL: Final = r"(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EVERYDAY: Final = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_MAX_LOCAL: Final = 64
_MAX_MAILBOX: Final = 254


def everyday(full: Callable[[str], str]) -> Callable[[str], str]:
    """A normaliser that answers the everyday address itself and asks ``full`` otherwise.

    ``full`` must be a store's :meth:`normalise` with ``casefold_local`` on (the
    shortcut lower-cases the local part).
    """
    match = _EVERYDAY.fullmatch

    def normalise(address: str) -> str:
        text = address.strip()
        if len(text) <= _MAX_MAILBOX and match(text) is not None and text.index("@") <= _MAX_LOCAL:
            return text.lower()
        return full(address)

    return normalise

"""Dialect plug-ins: recipients and diagnostics from bounces that carry no RFC 3464 part.

Each plug-in is a small module exposing ``DIALECT``, an object with a ``name``
and ``detect(msg, text) -> list[Finding] | None``: ``None`` when the message is
not in its dialect, else the failed recipients it found. They run in the order
of ``registry.DIALECTS``; the first that recognises a message wins. Plug-ins must be
pure and must not raise (the caller guards them anyway: a plug-in that raises is named,
with its exception class, in the report's reason, and the next plug-in reads on).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Protocol

from classifiers.dialects._common import lines_before, notification_text

__all__ = ["Dialect", "Finding", "lines_before", "notification_text"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed recipient found in a non-standard bounce."""

    address: str
    diag: str = ""
    temporary: bool = False


class Dialect(Protocol):
    """A bounce dialect detector."""

    @property
    def name(self) -> str:
        """Short label used in reports (``exim``, ``qmail`` …)."""
        ...

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients if ``msg`` is in this dialect, else ``None``."""
        ...

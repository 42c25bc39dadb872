"""au (KDDI) "Mail System Error - Returned Mail", for ezweb.ne.jp and au.com.

Shape (ISO-2022-JP text/plain; English first, then the same in Japanese)::

    From: Postmaster@ezweb.ne.jp
    Subject: Mail System Error - Returned Mail

    This is a MIME-encapsulated message

    Your mail sent on: Fri, 05 Jul 2024 10:00:00 +0900
         could not be delivered to the following recipient(s).

    <ichiro@ezweb.ne.jp>: User unknown

    お客様が送信されたメールは、以下の宛先に配信できませんでした。
    ("the mail you sent could not be delivered to the following address")

    ------ Original message header follows ------

One ``<address>: reason`` line per recipient (indented lines continue it); the
reason ("User unknown", "The user(s) account is disabled.") is the diagnostic.
A reason given only in Japanese is glossed in English
(:mod:`classifiers.dialects._japanese`).
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._gate import may_contain
from classifiers.dialects import Finding
from classifiers.dialects._common import (
    ADDRESS,
    has_report_part,
    header_text,
    is_system_sender,
    lines_before,
    notification_text,
    squash,
)
from classifiers.dialects._japanese import gloss, with_gloss

__all__ = ["DIALECT", "AuKddiDialect"]

_SUBJECT: Final = re.compile(r"^\s*Mail System Error - Returned Mail", re.IGNORECASE)
_SENT_ON: Final = re.compile(r"^\s*Your mail sent on:", re.IGNORECASE | re.MULTILINE)
_MARKER: Final = re.compile(
    r"could not be delivered to the following recipient\(s\)\.?", re.IGNORECASE
)
_END: Final = re.compile(r"^\s*-{3,}\s*Original message", re.IGNORECASE)
_RECIPIENT: Final = re.compile(rf"^<({ADDRESS})>:[ \t]*(.*)$")


# Literal words (lower-case) that every match of _MARKER holds: its gate (classifiers._gate).
_MARKER_WORDS: Final = ("could not be delivered to the following recipient(s)",)


class AuKddiDialect:
    """au (KDDI) returned mail (see the module docstring)."""

    name = "au-kddi"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of an au notice, else ``None``."""
        if has_report_part(msg) or not is_system_sender(msg):
            return None
        body = notification_text(msg, text)
        marker = _MARKER.search(body) if may_contain(body, _MARKER_WORDS) else None
        if marker is None:
            return None
        if not (_SUBJECT.match(header_text(msg, "Subject")) or _SENT_ON.search(body)):
            return None
        lines = lines_before(body[marker.end() :], _END)
        fallback = gloss("\n".join(lines))
        return [Finding(a, with_gloss(diag) or fallback) for a, diag in _recipients(lines)]


def _recipients(lines: list[str]) -> list[tuple[str, str]]:
    """``(address, reason)`` for each ``<address>: reason`` line and its indented continuation."""
    out: list[tuple[str, str]] = []
    address = ""
    reason: list[str] = []
    for line in [*lines, ""]:
        m = _RECIPIENT.match(line)
        if address and (m is not None or not line[:1].isspace() or not line.strip()):
            out.append((address, squash(reason)))
            address = ""
        if m is not None:
            address, reason = m.group(1), [m.group(2)]
        elif address:
            reason.append(line)
    return out


DIALECT: Final = AuKddiDialect()

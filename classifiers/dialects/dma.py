"""The DragonFly Mail Agent's (dma) bounce: one recipient, its reason, the original after.

Shape (single-part text, written by dma itself, no MIME)::

    From: MAILER-DAEMON <>
    Subject: Mail delivery failed

    This is the DragonFly Mail Agent v0.13 at smtp.example.net.

    There was an error delivering your mail to <ann@example.org>.

    mx.example.org [192.0.2.45] did not like our RCPT TO:
    550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown

    Message headers follow.

dma writes one such message per failed recipient. The reason paragraph runs from
after the "There was an error delivering your mail to <…>." line up to "Message
headers follow." or "Original message follows." (what comes after is the returned
original); dma's own framing ("… did not like our RCPT TO:") is cut so that the
diagnostic starts at the remote reply when there is one.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers.dialects import Finding
from classifiers.dialects._common import (
    ADDRESS,
    has_report_part,
    lines_before,
    notification_text,
    squash,
)
from classifiers.dialects._returned import RETURNED_HEADER

__all__ = ["DIALECT", "DmaDialect"]

_OPENING: Final = re.compile(r"This is the DragonFly Mail Agent\b", re.IGNORECASE)
# The address is matched lazily so that the sentence's closing full stop stays out of it
# when the address has no angle brackets.
_ERROR: Final = re.compile(
    rf"There was an error delivering your mail to\s+<?({ADDRESS}?)>?\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_END: Final = re.compile(
    rf"^\s*(?:Message headers|Original message) follows?\b|{RETURNED_HEADER.pattern}",
    re.IGNORECASE,
)
# dma's framing before the remote reply ("HOST [IP] did not like our RCPT TO:").
_FRAMING: Final = re.compile(r"^.*?did not like our [A-Z ]+(?:TO|FROM)?:?\s*(?=[245]\d\d\b)")
_DEFERRED: Final = re.compile(r"\bdeferred\b|^4\d\d\b", re.IGNORECASE)


class DmaDialect:
    """dma bounces (see the module docstring)."""

    name = "dma"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipient of a dma bounce, else ``None``."""
        # cheap test on the whole text first: most messages are not dma's
        if "DragonFly Mail Agent" not in text or has_report_part(msg):
            return None
        body = notification_text(msg, text)
        if not _OPENING.search(body):
            return None
        error = _ERROR.search(body)
        if error is None:
            return None
        reason = squash(lines_before(body[error.end() :], _END))
        diag = _FRAMING.sub("", reason)
        return [Finding(error.group(1), diag, bool(_DEFERRED.search(diag)))]


DIALECT: Final = DmaDialect()

"""Yahoo's native "Failure Notice": qmail's block format with Yahoo's own opening.

Shape (text/plain, no delivery-status part)::

    From: MAILER-DAEMON@yahoo.com
    Subject: Failure Notice

    Sorry, we were unable to deliver your message to the following address.

    <ann@example.com>:
    Remote host said: 550 5.1.1 <ann@example.com>: User unknown [RCPT_TO]

    --- Below this line is a copy of the message.

The blocks are read as qmail's (:func:`classifiers.dialects.qmail.qmail_blocks`);
the diagnostic keeps "Remote host said:", from which the reply code is read.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._gate import may_contain
from classifiers.dialects import Finding
from classifiers.dialects._common import has_report_part, is_system_sender, notification_text
from classifiers.dialects.qmail import qmail_blocks

__all__ = ["DIALECT", "YahooDialect"]

_OPENING: Final = re.compile(
    r"Sorry, we were unable to deliver your message to the following address", re.IGNORECASE
)


# Literal words (lower-case) that every match of _OPENING holds: its gate (classifiers._gate).
_OPENING_WORDS: Final = ("sorry, we were unable to deliver your message to the following",)


class YahooDialect:
    """Yahoo's native failure notice (see the module docstring)."""

    name = "yahoo"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a Yahoo failure notice, else ``None``."""
        if has_report_part(msg) or not is_system_sender(msg):
            return None
        body = notification_text(msg, text)
        if not may_contain(body, _OPENING_WORDS) or not _OPENING.search(body):
            return None
        return [Finding(address, diag) for address, diag in qmail_blocks(body)]


DIALECT: Final = YahooDialect()

"""OpenSMTPD's human-readable bounce, when it carries no delivery-status part.

Shape (multipart/mixed: the notification, then the original's headers)::

    From: Mailer Daemon <MAILER-DAEMON@smtpd.example.net>
    Subject: Delivery status notification: error

    Hi!

    This is the MAILER-DAEMON, please DO NOT REPLY to this email.

    An error has occurred while attempting to deliver a message for
    the following list of recipients:

    ann@example.org: 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown

    Below is a copy of the original message:

One "address: reason" line per recipient. The delay notice ("Subject: Delivery
status notification: delay", "A message is delayed for more than … for the
following list of recipients:", "Please note this is only a temporary failure
report.") has the same list; its recipients are temporary.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers.dialects import Finding
from classifiers.dialects._common import (
    ADDRESS,
    has_report_part,
    header_text,
    lines_before,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "OpenSmtpdDialect"]

_OPENING: Final = re.compile(r"This is the MAILER-DAEMON, please DO NOT REPLY", re.IGNORECASE)
# Line breaks fall anywhere in this sentence (the error and delay notices wrap it
# differently).
_LIST: Final = re.compile(r"the\s+following\s+list\s+of\s+recipients:?", re.IGNORECASE)
_DELAY: Final = re.compile(r"is delayed for more than|only a temporary failure", re.IGNORECASE)
_END: Final = re.compile(
    r"^\s*Below is a copy of the original message|^\s*Please note this is only", re.IGNORECASE
)
_LINE: Final = re.compile(rf"^\s*<?({ADDRESS})>?:\s+(.*)$")


class OpenSmtpdDialect:
    """OpenSMTPD text bounces and delay notices (see the module docstring)."""

    name = "opensmtpd"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed (or delayed) recipients of an OpenSMTPD notice, else ``None``."""
        # cheap test on the whole text first: most messages are not OpenSMTPD's
        if "DO NOT REPLY" not in text or has_report_part(msg):
            return None
        body = notification_text(msg, text)
        listed = _LIST.search(body)
        if not _OPENING.search(body) or listed is None:
            return None
        delayed = bool(_DELAY.search(body)) or "delay" in header_text(msg, "Subject").lower()
        findings: list[Finding] = []
        for line in lines_before(body[listed.end() :], _END):
            m = _LINE.match(line)
            if m is not None:
                findings.append(Finding(m.group(1), squash([m.group(2)]), delayed))
            elif findings and line[:1] in (" ", "\t") and line.strip():
                last = findings.pop()  # a reason folded onto the next line
                findings.append(Finding(last.address, squash([last.diag, line]), delayed))
        return findings


DIALECT: Final = OpenSmtpdDialect()

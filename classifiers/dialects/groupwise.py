"""GroupWise Internet Agent (GWIA) "Message status - undeliverable".

Shape (text/plain, the original appended)::

    From: Mail Delivery System <postmaster@gwia.gw.example.org>
    Subject: Message status - undeliverable
    X-Mailer: GroupWise Internet Agent 18.4.1

    The message that you sent was undeliverable to the following:
            uwe@gw.example.org (user not found)
            vera@gw.example.org (mailbox full)

    Possibly truncated original message follows:

One indented line per recipient, the reason in parentheses after the address
("user not found", "mailbox full", "host not found" …); that reason is the
diagnostic.
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
)

__all__ = ["DIALECT", "GroupWiseDialect"]

_MAILER: Final = re.compile(r"GroupWise", re.IGNORECASE)
_SUBJECT: Final = re.compile(r"^\s*Message status - undeliverable", re.IGNORECASE)
_MARKER: Final = re.compile(r"was undeliverable to the following:?", re.IGNORECASE)
_END: Final = re.compile(r"original message follows", re.IGNORECASE)
_RECIPIENT: Final = re.compile(rf"^\s+<?({ADDRESS})>?(?:\s*\((.*)\))?\s*$")


class GroupWiseDialect:
    """GWIA undeliverable notices (see the module docstring)."""

    name = "groupwise"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a GroupWise notice, else ``None``."""
        if has_report_part(msg):
            return None
        mailer = _MAILER.search(header_text(msg, "X-Mailer"))
        if not (mailer or _SUBJECT.match(header_text(msg, "Subject"))):
            return None
        body = notification_text(msg, text)
        marker = _MARKER.search(body)
        if marker is None:
            return None
        findings: list[Finding] = []
        for line in lines_before(body[marker.end() :], _END):
            m = _RECIPIENT.match(line)
            if m is not None:
                findings.append(Finding(m.group(1), (m.group(2) or "").strip()))
        return findings


DIALECT: Final = GroupWiseDialect()

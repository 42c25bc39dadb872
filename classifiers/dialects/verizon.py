"""Verizon Wireless's SMS and MMS gateways (vtext.com, vzwpix.com): "Undeliverable Message".

Shape (text/plain, the original appended after "Original message:")::

    From: post_master@vtext.com
    Subject: Undeliverable Message

    Message could not be delivered to mobile.
    Error: 550 5.1.1 <5551230001@vtext.com>... User unknown

    Original message:

The MMS gateway (``sysadmin@vzwpix.com``) says "Error: No valid recipients for
this MM" and may name the number on a line of its own. The gateway's sentence
and the address are stable; the failed recipients are the addresses the notice
names before "Original message" (when it names none, as in "Error: 554 5.7.1
Message blocked due to spam content", the gateway addresses in the returned
original's ``To:``), and the diagnostic is the "Error:" line (the notice's first
sentence when there is none).
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
from classifiers.dialects._returned import RETURNED_HEADER

__all__ = ["DIALECT", "VerizonDialect"]

_GATEWAY: Final = re.compile(r"@(?:[\w-]+\.)*(?:vtext|vzwpix)\.com\b", re.IGNORECASE)
_SENTENCE: Final = re.compile(
    r"could not be delivered to mobile|No valid recipients for this MM", re.IGNORECASE
)
_MARKER: Final = re.compile(r"^\s*(?:-+\s*)?Original message", re.IGNORECASE)
_END: Final = re.compile(f"{_MARKER.pattern}|{RETURNED_HEADER.pattern}", re.IGNORECASE)
_ORIGINAL: Final = re.compile(_MARKER.pattern, re.IGNORECASE | re.MULTILINE)
_ERROR: Final = re.compile(r"^\s*Error:\s*(.+)$", re.IGNORECASE)
_ADDRESS: Final = re.compile(ADDRESS)
_TO: Final = re.compile(r"^To:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


class VerizonDialect:
    """Verizon gateway notices (see the module docstring)."""

    name = "verizon"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a Verizon gateway notice, else ``None``."""
        sender = str(msg.get("From", "")).lower()
        if not ("vtext" in sender or "vzwpix" in sender):
            return None  # cheap test first: the gateways' domains, before decoding
        if not _GATEWAY.search(header_text(msg, "From")) or has_report_part(msg):
            return None
        lines = lines_before(notification_text(msg, text), _END)
        own = "\n".join(lines)
        sentence = _SENTENCE.search(own)
        if sentence is None:
            return None
        errors = [m.group(1) for line in lines if (m := _ERROR.match(line))]
        diag = squash(errors) if errors else sentence.group(0)
        addresses = dict.fromkeys(m.group(0).strip(".") for m in _ADDRESS.finditer(own))
        if not addresses:
            addresses = dict.fromkeys(_returned_recipients(notification_text(msg, text)))
        return [Finding(a, diag) for a in addresses]


def _returned_recipients(body: str) -> list[str]:
    """The gateway addresses in the returned original's ``To:`` field, for a notice
    that names no number of its own ("Error: 554 5.7.1 Message blocked …")."""
    marker = _ORIGINAL.search(body)
    if marker is None:
        return []
    to = _TO.search(body, marker.end())
    if to is None:
        return []
    return [m.group(0) for m in _ADDRESS.finditer(to.group(1)) if _GATEWAY.search(m.group(0))]


DIALECT: Final = VerizonDialect()

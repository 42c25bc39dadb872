"""Postfix bounces without a delivery-status part (Postfix 1.x and 2.0, or DSN disabled).

Shape::

    From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
    Subject: Undelivered Mail Returned to Sender

    This is the Postfix program at host mx.example.com.
      (from Postfix 2.1 on: "This is the mail system at host mx.example.com.")

    I'm sorry to have to inform you that the message returned
    below could not be delivered to one or more destinations.
    ...
                            The Postfix program

    <ann@example.com>: host mx.example.com[192.0.2.55] said: 550
        5.1.1 <ann@example.com>: Recipient address rejected: User
        unknown in local recipient table (in reply to RCPT TO command)
    <al@example.com> (expanded from <sales@example.com>): mailbox full

Postfix 1.x sends one text/plain part in which the same lines are repeated after
"--- Delivery error report follows ---" and the original follows "--- Undelivered
message follows ---". One recipient per ``<address>:`` line, continued by
indented lines; the diagnostic is everything after the colon ("host … said: 550
…" keeps the reply code readable). For an alias, the address we sent to is the
one in "(expanded from <…>)". A delay notice ("Delayed Mail (still being
retried)") carries "THIS IS A WARNING ONLY"; its recipients are temporary.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers.dialects import Finding
from classifiers.dialects._common import (
    ADDRESS,
    has_report_part,
    is_system_sender,
    lines_before,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "PostfixDialect"]

_OPENING: Final = re.compile(r"This is the (?:Postfix program|mail system) at host", re.IGNORECASE)
_WARNING: Final = re.compile(r"THIS IS A WARNING ONLY")
_END: Final = re.compile(r"^--- Undelivered message follows ---", re.IGNORECASE)
_RECIPIENT: Final = re.compile(rf"^<({ADDRESS})>(?: \(expanded from <({ADDRESS})>\))?:[ \t]*(.*)$")


class PostfixDialect:
    """Postfix text bounces (see the module docstring)."""

    name = "postfix"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed (or delayed) recipients of a Postfix text bounce, else ``None``."""
        if has_report_part(msg) or not is_system_sender(msg):
            return None
        body = notification_text(msg, text)
        opening = _OPENING.search(body)
        if opening is None:
            return None
        temporary = bool(_WARNING.search(body))
        findings: list[Finding] = []
        seen: set[str] = set()
        for address, diag in _recipients(body[opening.end() :]):
            if address.lower() not in seen:
                seen.add(address.lower())
                findings.append(Finding(address, diag, temporary))
        return findings


def _recipients(body: str) -> list[tuple[str, str]]:
    """``(address, diagnostic)`` for each ``<address>: reason`` line and its continuation."""
    out: list[tuple[str, str]] = []
    address = ""
    reason: list[str] = []
    for line in [*lines_before(body, _END), ""]:
        m = _RECIPIENT.match(line)
        if address and (m is not None or not line[:1].isspace() or not line.strip()):
            out.append((address, squash(reason)))
            address = ""
        if m is not None:
            address, reason = m.group(2) or m.group(1), [m.group(3)]
        elif address:
            reason.append(line)
    return out


DIALECT: Final = PostfixDialect()

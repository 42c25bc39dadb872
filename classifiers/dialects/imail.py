"""Ipswitch (Progress) IMail Server's "Undeliverable Mail".

Shape (text/plain, the original appended)::

    From: postmaster@imail.example
    Subject: Undeliverable Mail
    X-Mailer: <IMail v12.5>

    Unknown user: lea@imail.example

    RCPT TO generated following response:
    550 5.1.1 Unknown user: lea@imail.example

    Original message follows.

One "<reason>: <address>" line per recipient ("Unknown user", "User mailbox
exceeds allowed size", "Delivery failed 3 attempts" …). A "<command> generated
following response:" (or "Body of message generated response:") paragraph after
an address line is that recipient's SMTP reply. The diagnostic is the reply when
there is one, else the reason.
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
    is_system_sender,
    lines_before,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "IMailDialect"]

_MAILER: Final = re.compile(r"\bIMail\b", re.IGNORECASE)
_SUBJECT: Final = re.compile(r"^\s*Undeliverable Mail\s*$", re.IGNORECASE)
_END: Final = re.compile(r"^\s*Original message follows\.?\s*$", re.IGNORECASE)
_REASON: Final = re.compile(
    rf"^(?P<reason>[A-Za-z][^:<>@]{{2,80}}):\s*<?(?P<address>{ADDRESS})>?\s*$"
)
_RESPONSE: Final = re.compile(r"generated (?:the )?(?:following )?response:?\s*$", re.IGNORECASE)


class IMailDialect:
    """IMail's undeliverable notice (see the module docstring)."""

    name = "imail"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of an IMail notice, else ``None``."""
        if has_report_part(msg) or not is_system_sender(msg):
            return None
        mailer = _MAILER.search(header_text(msg, "X-Mailer"))
        if not (mailer or _SUBJECT.match(header_text(msg, "Subject"))):
            return None
        body = notification_text(msg, text)
        if not any(_END.match(line) for line in body.split("\n")):
            return None  # the marker before the original is what makes it IMail's
        found: list[tuple[str, str, list[str]]] = []
        reply: list[str] | None = None
        for line in lines_before(body, _END):
            m = _REASON.match(line.strip())
            if m is not None and reply is None:
                found.append((m.group("address"), m.group("reason").strip(), []))
            elif _RESPONSE.search(line):
                reply = found[-1][2] if found else None
            elif not line.strip():
                reply = None  # the reply paragraph ends at a blank line
            elif reply is not None:
                reply.append(line)
        return [Finding(address, squash(lines) or reason) for address, reason, lines in found]


DIALECT: Final = IMailDialect()

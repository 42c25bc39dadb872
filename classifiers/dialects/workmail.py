"""Amazon WorkMail's failure notice: the recipients listed, a technical report in text.

Shape (multipart/mixed: a text/plain notice, then the original as message/rfc822)::

    From: MAILER-DAEMON@us-west-2.awsapps.com
    Subject: Delivery Status Notification (Failure)
    X-Mailer: Amazon WorkMail

    An error occurred while trying to deliver the mail to the following recipients:
    ann@example.com
    bob@example.com

    Technical report:

    Reporting-MTA: dsn; a48-102.smtp-out.us-west-2.amazonses.com

    Action: failed
    Final-Recipient: rfc822; ann@example.com
    Diagnostic-Code: smtp; 550 5.1.1 User unknown
    Status: 5.1.1

The listed addresses are the recipients. The "Technical report" repeats the
delivery-status fields as plain text; a recipient's diagnostic is its
``Diagnostic-Code`` there (``Status`` when that is missing). A notice without the
report keeps the recipients with an empty diagnostic.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._original import address_of
from classifiers.dialects import Finding
from classifiers.dialects._common import (
    ADDRESS,
    has_report_part,
    header_text,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "WorkMailDialect"]

_MAILER: Final = re.compile(r"Amazon WorkMail", re.IGNORECASE)
_LIST: Final = re.compile(
    r"An error occurred while trying to deliver the mail to the following recipients:?",
    re.IGNORECASE,
)
_LISTED: Final = re.compile(rf"^\s*<?({ADDRESS})>?\s*$")
_REPORT: Final = re.compile(r"^\s*Technical report:?\s*$", re.IGNORECASE | re.MULTILINE)
_FIELD: Final = re.compile(r"^([A-Za-z-]+):\s*(.*)$")


class WorkMailDialect:
    """Amazon WorkMail failure notices (see the module docstring)."""

    name = "amazon-workmail"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a WorkMail notice, else ``None``."""
        if msg.get("X-Mailer") is None and msg.get("X-Original-Mailer") is None:
            return None  # cheap test first: most bounces name no mailer
        mailer = header_text(msg, "X-Mailer") + header_text(msg, "X-Original-Mailer")
        if not _MAILER.search(mailer) or has_report_part(msg):
            return None
        body = notification_text(msg, text)
        start = _LIST.search(body)
        if start is None:
            return None
        report = _REPORT.search(body, start.end())
        listed = body[start.end() : report.start() if report else len(body)]
        addresses: list[str] = []
        for line in listed.split("\n"):
            m = _LISTED.match(line)
            if m is not None:
                addresses.append(m.group(1))
            elif addresses and line.strip():
                break  # the list ends at the first line that is not an address
        diags = _report(body[report.end() :]) if report else {}
        return [Finding(a, diags.get(a.lower(), "")) for a in dict.fromkeys(addresses)]


def _report(text: str) -> dict[str, str]:
    """Lower-cased recipient -> diagnostic, from the technical report's field blocks."""
    out: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        name = ""
        for line in block.split("\n"):
            m = _FIELD.match(line)
            if m is not None:
                name = m.group(1).lower()
                fields[name] = m.group(2)
            elif name and line[:1] in (" ", "\t"):
                fields[name] += " " + line.strip()  # a folded field
        recipient = address_of(fields.get("final-recipient", "").partition(";")[2])
        if recipient:
            diag = fields.get("diagnostic-code", "").partition(";")[2] or fields.get("status", "")
            out[recipient.lower()] = squash([diag])
    return out


DIALECT: Final = WorkMailDialect()

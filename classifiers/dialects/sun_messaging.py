"""Oracle Communications (Sun Java System, iPlanet) Messaging Server notices without a DSN part.

The server's own bounce is a proper multipart/report, read by the RFC 3464 parser.
Its text part also travels alone: older releases, and gateways that keep only text,
deliver the notice with no delivery-status part. Shape::

    From: Internet Mail Delivery <postmaster@ms.uni.example>
    Subject: Delivery Notification: Delivery has failed

    This report relates to a message you sent with the following header fields:

      Message-id: <…@mta2.sender.example>
      To: <hana@uni.example>                 (a summary of the original: never read)
      Subject: Spring offers

    Your message cannot be delivered to the following recipients:

      Recipient address: hana@uni.example
      Reason: Over quota

      Recipient address: jan@uni.example
      Original address: jan.smit@uni.example
      Reason: Illegal host/domain name found
      Diagnostic code: smtp;550 5.1.2 host unknown
      Remote system: dns;mx.uni.example (TCP|192.0.2.41|25|192.0.2.40|51522)

One block per recipient after each "Your message … following recipients:" heading.
``Original address`` (the address we sent to) wins over ``Recipient address``; the
diagnostic is the ``Diagnostic code`` without its ``smtp;`` type, else the ``Reason``.
Blocks under "has been delayed" headings are temporary; "has been delivered" blocks
are skipped.
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
    is_system_sender,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "SunMessagingDialect"]

_OPENING: Final = re.compile(
    r"This report relates to (?:a|your) message you sent|"
    r"Your message (?:cannot|could not) be delivered to the following recipients?:",
    re.IGNORECASE,
)
# Every _OPENING match contains one of these (the gate before its scan).
_OPENING_WORDS: Final = ("this report relates to ", " be delivered to the following recipient")
# Each heading opens a section; its kind says whether the blocks under it failed.
_HEADING: Final = re.compile(
    r"^\s*Your message (?P<what>cannot be delivered|could not be delivered|"
    r"has been delayed|has been delivered|has been forwarded|was successfully)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FIELD: Final = re.compile(
    r"^\s*(?P<name>Recipient address|Original address|Reason|Diagnostic code|"
    r"Remote system)\s*:\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_ADDRESS: Final = re.compile(ADDRESS)
_TYPE: Final = re.compile(r"^\s*(?:smtp|x-[\w-]+)\s*;\s*", re.IGNORECASE)


class SunMessagingDialect:
    """Oracle/Sun/iPlanet Messaging Server text notices (see the module docstring)."""

    name = "oracle-messaging"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed or delayed recipients of a Messaging Server notice, else ``None``."""
        if has_report_part(msg) or not is_system_sender(msg):
            return None  # the sender is postmaster ("Internet Mail Delivery"), never a person
        body = notification_text(msg, text)
        if not may_contain(body, _OPENING_WORDS) or not _OPENING.search(body):
            return None
        headings = list(_HEADING.finditer(body))
        if not headings:
            return None
        findings: list[Finding] = []
        for i, heading in enumerate(headings):
            what = heading.group("what").lower()
            if not ("cannot" in what or "could not" in what or "delayed" in what):
                continue
            end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
            findings.extend(_blocks(body[heading.end() : end], temporary="delayed" in what))
        return findings


def _blocks(section: str, *, temporary: bool) -> list[Finding]:
    findings: list[Finding] = []
    fields: dict[str, str] = {}
    last = ""
    for line in section.split("\n"):
        m = _FIELD.match(line)
        if m is not None:
            last = m.group("name").lower()
            if last == "recipient address" and "recipient address" in fields:
                findings.extend(_finding(fields, temporary))
                fields = {}
            fields[last] = m.group("value").strip()
        elif line.strip() and last and line[:1].isspace() and last in fields:
            fields[last] = squash((fields[last], line))  # a folded value
        elif not line.strip() or line[:1].isspace():
            last = ""  # a blank line, or a field this plug-in does not read
        elif fields or findings:
            break  # prose after the blocks: "Please note …", the returned message
        # else: the heading's wrapped second line ("to the following recipients:")
    findings.extend(_finding(fields, temporary))
    return findings


def _finding(fields: dict[str, str], temporary: bool) -> list[Finding]:
    for name in ("original address", "recipient address"):
        m = _ADDRESS.search(fields.get(name, ""))
        if m is not None:
            address = m.group(0).strip("<>")
            break
    else:
        return []
    diag = _TYPE.sub("", fields.get("diagnostic code", "")) or fields.get("reason", "")
    return [Finding(address, diag, temporary)]


DIALECT: Final = SunMessagingDialect()

"""Exchange 2000/2003 non-delivery reports without a delivery-status part.

Shape (multipart/mixed: this text/plain part, then the original as message/rfc822)::

    From: "System Administrator" <postmaster@ex2003.example.org>
    Subject: Undeliverable: Your May offers are here
    X-MimeOLE: Produced By Microsoft Exchange V6.5
    Content-class: urn:content-classes:dsn

    Your message

      To:      bob@ex2003.example.org
      Subject: Your May offers are here
      Sent:    5/21/2024 09:12 AM

    did not reach the following recipient(s):

    bob@ex2003.example.org on 5/21/2024 09:13 AM
                The e-mail account does not exist at the organization this
                message was sent to. …
                <EXBE01.ex2003.example.org #5.1.1>

One block per recipient: "<address> on <date>", then indented lines that end
with "<server #status>" (or "<server #status smtp;550 …>" when a remote host
refused). The diagnostic is the indented text, server line included: its
``#5.1.1`` is the RFC 3463 status the rule table reads. A German server writes
"hat folgende(n) Empfänger nicht erreicht:" and "<address> am 20.01.2025 08:45".

Exchange 2000 and 5.5 write the older frame, every line indented::

    Your message did not reach some or all of the intended recipients.

          Subject:	Your May offers are here
          Sent:	5/21/2024 09:12 AM

    The following recipient(s) could not be reached:

          bob@ex2000.example.org on 5/21/2024 09:13 AM
                The e-mail account does not exist at the organization …
                <EXCH2K.ex2000.example.org #5.1.1>
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._gate import may_contain
from classifiers._original import address_of
from classifiers.dialects import Finding
from classifiers.dialects._common import (
    has_report_part,
    header_text,
    is_system_sender,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "ExchangeLegacyDialect"]

# English (2003; 2000/5.5: "The following recipient(s) could not be reached:"), and
# the German server's "hat folgende(n) Empfänger nicht erreicht:".
_MARKER: Final = re.compile(
    r"did not reach the following recipient\(s\):|"
    r"The following recipient\(s\) could not be reached:|"
    r"hat folgende\(n\) Empf(?:ä|ae)nger nicht erreicht:",
    re.IGNORECASE,
)
_EXCHANGE: Final = re.compile(r"Microsoft Exchange|Internet Mail Service", re.IGNORECASE)
_NDR_CLASS: Final = re.compile(r"urn:content-classes:dsn", re.IGNORECASE)
# "<who> on <M/D/YYYY> <time>" (German: "<who> am <D.M.YYYY> <time>"): who is an
# address, or a display name we cannot use.
_RECIPIENT: Final = re.compile(
    r"^\s*(\S.*?) (?:on \d{1,2}/\d{1,2}/\d{2,4}|am \d{1,2}\.\d{1,2}\.\d{2,4})\b"
)


# Literal words (lower-case) that every match of _MARKER holds: its gate (classifiers._gate).
_MARKER_WORDS: Final = (
    "did not reach the following recipient(s):",
    "the following recipient(s) could not be reached:",
    "hat folgende(n) empf",
)


class ExchangeLegacyDialect:
    """Exchange 2000/2003 NDRs (see the module docstring)."""

    name = "exchange2003"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of an Exchange 2003 NDR, else ``None``."""
        if has_report_part(msg) or not _is_exchange(msg):
            return None
        body = notification_text(msg, text)
        marker = _MARKER.search(body) if may_contain(body, _MARKER_WORDS) else None
        if marker is None:
            return None
        return [Finding(a, diag) for a, diag in _blocks(body[marker.end() :])]


def _is_exchange(msg: Message) -> bool:
    """An Exchange product header or the NDR content class, from a system sender."""
    product = header_text(msg, "X-MimeOLE") + " " + header_text(msg, "X-Mailer")
    exchange = _EXCHANGE.search(product) or _NDR_CLASS.search(header_text(msg, "Content-class"))
    return bool(exchange) and is_system_sender(msg)


def _blocks(rest: str) -> list[tuple[str, str]]:
    """``(address, diagnostic)`` for each "<address> on <date>" line and its indented text."""
    out: list[tuple[str, str]] = []
    address = ""
    reason: list[str] = []
    for line in rest.split("\n"):
        m = _RECIPIENT.match(line)
        if address and (m is not None or (line.strip() and not line[:1].isspace())):
            out.append((address, squash(reason)))
            address = ""
        if m is not None:
            address, reason = address_of(m.group(1)), []
        elif address and line.strip():
            reason.append(line)
    if address:
        out.append((address, squash(reason)))
    return out


DIALECT: Final = ExchangeLegacyDialect()

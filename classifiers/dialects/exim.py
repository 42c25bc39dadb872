"""Exim's plain-text bounces and delay warnings, sent without a delivery-status part.

The failure report (old Exim, or ``dsn_advertise_hosts`` unset) reads::

    From: Mail Delivery System <Mailer-Daemon@mx.example.net>
    Subject: Mail delivery failed: returning message to sender
    X-Failed-Recipients: ann@example.org, bob@example.org

    This message was created automatically by mail delivery software.

    A message that you sent could not be delivered to one or more of its
    recipients. This is a permanent error. The following address(es) failed:

      ann@example.org
        SMTP error from remote mail server after RCPT TO:<ann@example.org>:
        host mx.example.org [192.0.2.31]: 550 5.1.1 User unknown

      bob@example.org
        host mx.example.org [192.0.2.31]
        SMTP error from remote mail server after end of data:
        550 5.7.1 Message rejected

    ------ This is a copy of the message, including all the headers. ------

Each address sits two spaces in, its reason four spaces in. The remote reply is
cut out of Exim's own framing ("SMTP error from remote mail server after …:" and
"host NAME [IP]") so the diagnostic starts at the reply code; a local reason
("retry time not reached for any host after a long failure period",
"Unrouteable address") is the diagnostic as written. When Exim gives up with its
last error in front ("mailbox is full: retry timeout exceeded", "451 4.7.1
Greylisted …: retry timeout exceeded"), that last error is the diagnostic: it says
why the address expired.

The delay warning ("Warning: message … delayed …", or the misleading "Mail
delivery deferred: returning message to sender") says the message "has not yet
been delivered to one or more of its recipients", lists them after "… not yet
been delivered are:" (or "is:") with a "Delay reason:", and ends with "No action
is required on your part". Its recipients are temporary, as are failures whose
reason is "retry time not reached": the host is in retry back-off, which proves
nothing about the address.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._gate import may_contain
from classifiers._original import address_of
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

__all__ = ["DIALECT", "EximDialect"]

_OPENING: Final = re.compile(
    r"This message was created automatically by mail delivery software", re.IGNORECASE
)
# The line that opens the recipient list, in the failure report and in the warning.
_LIST_START: Final = re.compile(
    r"The following address(?:\(es\)|es)? failed:|"
    r"The address(?:es)? to which the message has not yet been delivered (?:is|are):",
    re.IGNORECASE,
)
_DELAYED: Final = re.compile(
    r"has not yet been delivered to (?:one or more|all (?:of )?its recipients)", re.IGNORECASE
)
_END: Final = re.compile(
    r"^-{3,} ?This is a copy of|^-{3,} ?The body of the message|^No action is required",
    re.IGNORECASE,
)
_ADDRESS_LINE: Final = re.compile(rf"^ {{1,3}}<?({ADDRESS})>?:?$")
_GENERATED: Final = re.compile(rf"^\(generated from ({ADDRESS})\)$", re.IGNORECASE)
# Exim's framing around the remote reply (not part of what the remote host said).
_SMTP_ERROR: Final = re.compile(
    r"SMTP error from remote (?:mail server|mailer) after .*?(?:<[^>]*>)?:(?=\s|$)",
    re.IGNORECASE,
)
# What is left of the framing once the sentence above is cut: "host NAME [IP]" or
# "host NAME [IP]:", which Exim writes before the reply (old layout) or on its own
# line above the sentence (newer layout); a "host … [ip]" inside the reply stays.
_LEADING_HOST: Final = re.compile(r"^host \S+ \[[0-9A-Fa-f.:]+\]:?\s*")
_DELAY_REASON: Final = re.compile(r"\bDelay reason:\s*", re.IGNORECASE)
_RETRY_BACKOFF: Final = re.compile(r"retry time not reached", re.IGNORECASE)
# Exim appends its verdict to the last error: "mailbox is full: retry timeout exceeded",
# "451 4.7.1 Greylisted …: retry timeout exceeded". The last error says why.
_RETRY_TIMEOUT: Final = re.compile(r"^(.*\S)\s*:\s*retry timeout exceeded\s*$", re.IGNORECASE)


# Literal words (lower-case) that every match of _OPENING holds: its gate (classifiers._gate).
_OPENING_WORDS: Final = ("this message was created automatically by mail delivery software",)


class EximDialect:
    """Exim text bounces and delay warnings (see the module docstring)."""

    name = "exim"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed (or delayed) recipients of an Exim text report, else ``None``."""
        if has_report_part(msg):
            return None
        body = notification_text(msg, text)
        if not may_contain(body, _OPENING_WORDS) or not _OPENING.search(body):
            return None
        if not _LIST_START.search(body):
            return None
        if not (is_system_sender(msg) or msg.get("X-Failed-Recipients") is not None):
            return None
        delayed = bool(_DELAYED.search(body))
        findings = [
            Finding(address, diag, delayed or bool(_RETRY_BACKOFF.search(diag)))
            for address, diag in _blocks(body)
        ]
        return findings or _from_header(msg, delayed)


def _blocks(body: str) -> list[tuple[str, str]]:
    """``(address, diagnostic)`` for each block of the recipient list."""
    start = _LIST_START.search(body)
    if start is None:
        return []
    out: list[tuple[str, str]] = []
    address = ""
    reason: list[str] = []
    for line in lines_before(body[start.end() :], _END):
        m = _ADDRESS_LINE.match(line)
        if m is not None:
            if address:
                out.append((address, _diag(reason)))
            address, reason = m.group(1), []
        elif address and line.strip():
            generated = _GENERATED.match(line.strip())
            if generated is not None:
                address = generated.group(1)  # the alias we sent to, not its expansion
            else:
                reason.append(line.strip())
    if address:
        out.append((address, _diag(reason)))
    return out


def _diag(reason: list[str]) -> str:
    """The remote reply when there is one, else Exim's own reason text."""
    joined = _DELAY_REASON.sub("", squash(reason))
    if (last := _RETRY_TIMEOUT.match(joined)) is not None:
        joined = last.group(1)  # the last error decides (README: precedence rule 1)
    if not _SMTP_ERROR.search(joined):
        return joined
    reply = _LEADING_HOST.sub("", squash([_SMTP_ERROR.sub(" ", joined, count=1)]))
    return reply or joined


def _from_header(msg: Message, delayed: bool) -> list[Finding]:
    """Fallback: the ``X-Failed-Recipients`` header, without a reason."""
    value = header_text(msg, "X-Failed-Recipients")
    addresses = [address_of(item) for item in value.split(",")]
    return [Finding(a, "", delayed) for a in addresses if a]


DIALECT: Final = EximDialect()

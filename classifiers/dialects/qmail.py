"""qmail-send's "failure notice" (and the block format other senders borrowed from it).

Shape::

    From: MAILER-DAEMON@mail.example.net
    Subject: failure notice

    Hi. This is the qmail-send program at mail.example.net.
    I'm afraid I wasn't able to deliver your message to the following addresses.
    This is a permanent error; I've given up. Sorry it didn't work out.

    <ann@example.net>:
    Sorry, no mailbox here by that name. (#5.1.1)

    <bob@example.com>:
    192.0.2.55 does not like recipient.
    Remote host said: 550 5.1.1 <bob@example.com>: User unknown
    Giving up on 192.0.2.55.

    <cy@flaky.example>:
    Connected to 198.51.100.33 but connection died. (#4.4.2)
    I'm not going to try again; this message has been in the queue too long.

    --- Below this line is a copy of the message.

One block per recipient: ``<address>:`` then the reason lines, up to a blank
line. qmail's own bookkeeping sentences, "Giving up on <host>." and "I'm not
going to try again; this message has been in the queue too long.", say why it
stopped retrying, not why delivery failed, and are left out of the diagnostic:
the last error decides, as for a DSN whose final 4.4.7 quotes the last reply.
Such a block is a final failure (qmail has given up), so it is not temporary; a
notice that says "This is not a permanent error" makes every recipient temporary.
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
    header_text,
    is_system_sender,
    lines_before,
    notification_text,
    squash,
)

__all__ = ["DIALECT", "QmailDialect", "qmail_blocks"]

_OPENING: Final = re.compile(
    r"This is the qmail-send program at|"
    r"I'm afraid I wasn't able to deliver your message to the following addresses",
    re.IGNORECASE,
)
# Every _OPENING match contains one of these (the gate before its scan).
_OPENING_WORDS: Final = ("this is the qmail-send program at", "i'm afraid i wasn't able to")
_SUBJECT: Final = re.compile(r"^\s*failure notice\s*$", re.IGNORECASE)
_NOT_PERMANENT: Final = re.compile(r"This is not a permanent error", re.IGNORECASE)
# "--- Below this line is a copy of the message." / "--- Enclosed are the original headers"
_END: Final = re.compile(r"^--- ?(?:Below this line|Enclosed)", re.IGNORECASE)
_BLOCK_START: Final = re.compile(rf"^<({ADDRESS})>:[ \t]*(.*)$")
_BOOKKEEPING: Final = re.compile(
    r"I'm not going to try again; this message has been in the queue too long\.?|"
    r"Giving up on [0-9A-Fa-f.:]+\.?",
    re.IGNORECASE,
)


class QmailDialect:
    """qmail-send failure notices (see the module docstring)."""

    name = "qmail"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a qmail-send notice, else ``None``."""
        if has_report_part(msg):
            return None
        body = notification_text(msg, text)
        if not may_contain(body, _OPENING_WORDS) or not _OPENING.search(body):
            return None
        if not (is_system_sender(msg) or _SUBJECT.match(header_text(msg, "Subject"))):
            return None
        blocks = qmail_blocks(body)
        temporary = bool(_NOT_PERMANENT.search(_preamble(body)))
        return [Finding(address, diag, temporary) for address, diag in blocks]


def qmail_blocks(body: str) -> list[tuple[str, str]]:
    """``(address, diagnostic)`` for each ``<address>:`` block before the returned copy."""
    out: list[tuple[str, str]] = []
    address = ""
    reason: list[str] = []
    for line in [*lines_before(body, _END), ""]:
        m = _BLOCK_START.match(line.strip())
        if m is not None:
            if address:
                out.append((address, _diag(reason)))
            address, reason = m.group(1), [m.group(2)]
        elif not line.strip():
            if address:
                out.append((address, _diag(reason)))
            address, reason = "", []
        elif address:
            reason.append(line)
    return out


def _diag(reason: list[str]) -> str:
    return squash([_BOOKKEEPING.sub(" ", squash(reason))])


def _preamble(body: str) -> str:
    """The text before the first recipient block."""
    head: list[str] = []
    for line in body.split("\n"):
        if _BLOCK_START.match(line.strip()):
            break
        head.append(line)
    return "\n".join(head)


DIALECT: Final = QmailDialect()

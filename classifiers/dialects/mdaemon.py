"""MDaemon's delivery failure and warning notices, built around a session transcript.

Shape (multipart/mixed: this text/plain part, then the original)::

    From: MDaemon@mail.example.org
    Subject: Permanent Delivery Failure        (or "Warning: Temporary Delivery Failure")
    X-MDDSN-Message: Yes

    The attached message had PERMANENT fatal delivery errors!
    ...
    --- Session Transcript ---
     Wed 2024-06-19 08:00:01: *  To: ann@example.org
     Wed 2024-06-19 08:00:03: --> RCPT To:<ann@example.org>
     Wed 2024-06-19 08:00:03: <-- 550 5.1.1 <ann@example.org>: User unknown
    --- End Transcript ---

``-->`` lines are what MDaemon sent, ``<--`` what the remote host replied
(``550-…`` lines continue a reply). A failing reply to ``RCPT To:<address>``
names its recipient; one after ``DATA`` (or the final ``.``) applies to every
recipient accepted so far; one to anything else (``MAIL From``, the greeting)
applies to the message's recipients, read from the ``*  To:`` line. The
diagnostic is the reply. The warning ("has not been delivered yet", "Delivery
attempts will continue") makes every recipient temporary.
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
    notification_text,
)

__all__ = ["DIALECT", "MDaemonDialect"]

_FROM: Final = re.compile(r"\bMDaemon@", re.IGNORECASE)
_TRANSCRIPT: Final = re.compile(r"^-{2,} ?Session Transcript ?-{2,}", re.IGNORECASE | re.MULTILINE)
_TRANSCRIPT_END: Final = re.compile(r"^-{2,} ?End Transcript", re.IGNORECASE)
_TEMPORARY: Final = re.compile(
    r"Temporary Delivery Failure|has not been delivered yet|Delivery attempts will continue",
    re.IGNORECASE,
)
_SENT: Final = re.compile(r"-->\s*(.*)$")
_REPLY: Final = re.compile(r"<--\s*(([2-5][0-9]{2})([ -]|$).*)$")
_TO: Final = re.compile(rf"\*\s+To:\s*<?({ADDRESS})>?", re.IGNORECASE)
_RCPT: Final = re.compile(rf"^RCPT TO:\s*<?({ADDRESS})>?", re.IGNORECASE)
_DATA: Final = re.compile(r"^(?:DATA|BDAT\b|\.)\s*$", re.IGNORECASE)


# Literal words (lower-case) that every match of _TRANSCRIPT holds: its gate (classifiers._gate).
_TRANSCRIPT_WORDS: Final = ("session transcript",)


class MDaemonDialect:
    """MDaemon notices (see the module docstring)."""

    name = "mdaemon"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed (or delayed) recipients of an MDaemon notice, else ``None``."""
        if has_report_part(msg) or not _is_mdaemon(msg):
            return None
        body = notification_text(msg, text)
        start = _TRANSCRIPT.search(body) if may_contain(body, _TRANSCRIPT_WORDS) else None
        if start is None:
            return None
        temporary = bool(_TEMPORARY.search(header_text(msg, "Subject") + "\n" + body))
        failures = _Transcript().read(body[start.end() :])
        return [Finding(address, diag, temporary) for address, diag in failures]


def _is_mdaemon(msg: Message) -> bool:
    """MDaemon's own headers, or mail from its ``MDaemon@`` system account."""
    if msg.get("X-MDDSN-Message") is not None or msg.get("X-MDaemon-Deliver-To") is not None:
        return True
    return bool(_FROM.search(header_text(msg, "From")))


class _Transcript:
    """A walk over the transcript lines: who was refused, with which reply."""

    def __init__(self) -> None:
        self.listed: list[str] = []  # "*  To:" recipients of the message
        self.accepted: list[str] = []  # RCPT accepted with a 2xx reply
        self.failed: dict[str, str] = {}
        self.command = ""
        self.rcpt = ""
        self.reply: list[str] = []

    def read(self, transcript: str) -> list[tuple[str, str]]:
        """``(address, reply)`` for every refused recipient, in transcript order."""
        for line in transcript.split("\n"):
            if _TRANSCRIPT_END.match(line.strip()):
                break
            self._line(line)
        if not self.failed:  # no refusal in the transcript: the notice still names them
            return [(address, "") for address in dict.fromkeys(self.listed)]
        return list(self.failed.items())

    def _line(self, line: str) -> None:
        listed = _TO.search(line)
        sent = _SENT.search(line)
        reply = _REPLY.search(line)
        if listed is not None:
            self.listed.append(address_of(listed.group(1)))
        elif sent is not None:
            self.command = sent.group(1).strip()
            rcpt = _RCPT.match(self.command)
            self.rcpt = address_of(rcpt.group(1)) if rcpt else ""
        elif reply is not None:
            self.reply.append(reply.group(1).strip())
            if reply.group(3) != "-":  # the last line of the reply
                self._answered(int(reply.group(2)), "\n".join(self.reply))
                self.reply = []

    def _answered(self, code: int, reply: str) -> None:
        if self.rcpt:
            if code < 400:
                self.accepted.append(self.rcpt)
            else:
                self.failed.setdefault(self.rcpt, reply)
        elif code >= 400:
            after_data = bool(_DATA.match(self.command))
            for address in self.accepted if after_data else self.listed:
                self.failed.setdefault(address, reply)


DIALECT: Final = MDaemonDialect()

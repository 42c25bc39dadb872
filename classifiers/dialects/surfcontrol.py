"""SurfControl E-mail Filter's delivery transcript.

Shape (text/plain, usually beside the returned message)::

    From: postmaster@gw.surf.example
    Subject: Mail could not be delivered
    X-Mailer: SurfControl E-mail Filter

    Your message could not be sent.
    A transcript of the attempts to send the message follows.
    The number of attempts made: 1
    Addressed To: nils@surf.example

    Tue 04 Mar 2025 09:16:29 +0000
    Failed to send to identified host,
    nils@surf.example: [192.0.2.61], 550 nils@surf.example... No such user
    --- Message non-deliverable.

Each "Addressed To:" line names recipients. A transcript line "<address>: [ip],
<reply>" gives that recipient's reply; a recipient without one gets the
transcript's last failure text ("Failed to send to identified host, …").
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._gate import may_contain
from classifiers.dialects import Finding
from classifiers.dialects._common import ADDRESS, has_report_part, notification_text, squash

__all__ = ["DIALECT", "SurfControlDialect"]

_OPENING: Final = re.compile(
    r"Your message could not be sent\.?\s*\n\s*A transcript of the attempts to send the "
    r"message follows",
    re.IGNORECASE,
)
_ADDRESSED: Final = re.compile(r"^\s*Addressed To:\s*(?P<list>.+)$", re.IGNORECASE | re.MULTILINE)
_REPLY: Final = re.compile(
    rf"^\s*<?(?P<address>{ADDRESS})>?:\s*(?:\[[^\]]*\],?\s*)?(?P<reply>.+)$", re.MULTILINE
)
_FAILED: Final = re.compile(r"^\s*Failed to .*$", re.IGNORECASE | re.MULTILINE)
_ADDRESS_RE: Final = re.compile(ADDRESS)
_END: Final = re.compile(r"^\s*-+\s*Message non-deliverable", re.IGNORECASE | re.MULTILINE)


# Literal words (lower-case) that every match of _OPENING holds: its gate (classifiers._gate).
_OPENING_WORDS: Final = ("your message could not be sent",)


class SurfControlDialect:
    """SurfControl's transcript notice (see the module docstring)."""

    name = "surfcontrol"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a SurfControl transcript, else ``None``."""
        if has_report_part(msg):
            return None
        body = notification_text(msg, text)
        opening = _OPENING.search(body) if may_contain(body, _OPENING_WORDS) else None
        if opening is None:
            return None
        end = _END.search(body, opening.end())
        body = body[opening.end() : end.start() if end else len(body)]
        addressed = [
            a.strip("<>")
            for m in _ADDRESSED.finditer(body)
            for a in _ADDRESS_RE.findall(m.group(1))
        ]
        replies = {m.group("address").lower(): m.group("reply") for m in _REPLY.finditer(body)}
        failed = [m.group(0) for m in _FAILED.finditer(body)]
        fallback = squash(failed[-1:]).rstrip(",")
        return [Finding(a, squash([replies.get(a.lower(), fallback)])) for a in addressed]


DIALECT: Final = SurfControlDialect()

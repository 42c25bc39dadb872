"""fml (the Japanese mailing-list manager): its notice that a post to a list was rejected.

Shape (text/plain from the list's admin address, the post quoted after the notice)::

    From: elena-admin@ml.example.jp
    Subject: fml status report (elena ML)
    X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]
    X-ML-Name: elena

    You are not a member of this mailing list <elena@ml.example.jp>.
    Your mail is rejected since this list accepts posts from members only.

    --elena@ml.example.jp, Be Seeing You!

    Original mail as follows:

Only a notice from the list's own addresses (``-admin``, ``-owner``, ``-request``,
``-ctl``) or a mail system counts: a post the list distributed carries the same
headers. The recipient is the list we posted to: the address the notice names (in the text
or in fml's "--list@domain, Be Seeing You!" signature), never one from the quoted
post. The notice's text up to the signature is the diagnostic.
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
from classifiers.dialects._returned import RETURNED_HEADER

__all__ = ["DIALECT", "FmlDialect"]

_SERVER: Final = re.compile(r"^\s*fml\b", re.IGNORECASE)
_END: Final = re.compile(
    rf"^\s*Original mail as follows|^-{{3,}}|{RETURNED_HEADER.pattern}", re.IGNORECASE
)
_SIGNATURE: Final = re.compile(rf"^--\s*({ADDRESS}),?\s*Be Seeing You", re.IGNORECASE)
_ADDRESS: Final = re.compile(rf"<({ADDRESS})>")
# fml sends its notices from the list's administrative addresses.
_ADMIN: Final = re.compile(r"-(?:admin|owner|request|ctl)@|\bfml", re.IGNORECASE)
_REJECTED: Final = re.compile(
    r"\breject|not (?:a )?member|\bden(?:ied|y)\b|too (?:big|large)|"
    r"メンバーではありません|拒否|大きすぎ",  # fml's Japanese messages (MESSAGE_LANGUAGE)
    re.I,
)


class FmlDialect:
    """fml rejection notices (see the module docstring)."""

    name = "fml"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The list address of an fml rejection notice, else ``None``."""
        if msg.get("X-MLServer") is None and msg.get("List-Software") is None:
            return None  # cheap test first: most messages come from no list manager
        server = header_text(msg, "X-MLServer") or header_text(msg, "List-Software")
        if not _SERVER.match(server) or has_report_part(msg):
            return None
        if not (_ADMIN.search(header_text(msg, "From")) or is_system_sender(msg)):
            return None  # a post the list distributed, not the list's own notice
        lines = lines_before(notification_text(msg, text), _END)
        notice = [line for line in lines if not _SIGNATURE.match(line)]
        diag = squash(notice)
        if not _REJECTED.search(diag):
            return None  # a help reply or a digest, not a rejection
        signed = [m.group(1) for line in lines if (m := _SIGNATURE.match(line))]
        named = _ADDRESS.search("\n".join(notice))
        address = named.group(1) if named else (signed[0] if signed else "")
        return [Finding(address, diag)] if address else None


DIALECT: Final = FmlDialect()

"""NTT docomo's returned mail (sendmail's old text layout, with a Japanese preamble).

Shape (ISO-2022-JP text/plain, sometimes followed by a text/rfc822-headers part)::

    From: Mail Delivery Subsystem <MAILER-DAEMON@mfsmax.docomo.ne.jp>
    Subject: =?ISO-2022-JP?B?…?= (Returned mail)      ("メール配信エラー (Returned mail)")

    The original message was received at Fri, 14 Jun 2024 12:00:00 +0900
    from mta1.sender.example [203.0.113.21]

    このメールは、送信先のアドレスに配信できなかったため、…
    配信できなかったアドレス:                             ("addresses that could not be delivered:")
    <taro@docomo.ne.jp>
        (reason: 550 Unknown user taro@docomo.ne.jp)

       ----- Transcript of session follows -----
    ... while talking to mfsmtp-dcm.docomo.ne.jp.:
    >>> RCPT To:<taro@docomo.ne.jp>
    <<< 550 Unknown user taro@docomo.ne.jp

    ------ 元のメッセージのヘッダ ------                    ("header of the original message")

Each ``<address>`` line names a recipient and the ``(reason: …)`` line under it
is the diagnostic (the reply may omit the address; it belongs to the ``<…>``
above). Without a reason line, the ``<<<`` reply to that address's ``RCPT To``
is used, then the transcript's last error reply (a refusal after ``DATA``), and
failing that a known Japanese phrase glossed in English
(:mod:`classifiers.dialects._japanese`).
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
from classifiers.dialects._japanese import gloss, with_gloss

__all__ = ["DIALECT", "DocomoDialect"]

_HOST: Final = re.compile(r"[@.]docomo\.ne\.jp\b", re.IGNORECASE)
_MARKER: Final = re.compile(
    r"\(reason:|Transcript of session follows|配信できなかったアドレス", re.IGNORECASE
)
_END: Final = re.compile(r"^\s*-{3,}\s*(?:元のメッセージ|Original message)", re.IGNORECASE)
_ADDRESS_LINE: Final = re.compile(rf"^\s*<({ADDRESS})>\s*$")
_REASON: Final = re.compile(r"^\s*\(reason:\s*(.*?)\)?\s*$", re.IGNORECASE)
_RCPT: Final = re.compile(rf"^>>>\s*RCPT TO:\s*<({ADDRESS})>", re.IGNORECASE)
_SAID: Final = re.compile(r"^<<<\s*(.*)$")
_ERROR: Final = re.compile(r"^[45][0-9]{2}(?:[ -]|$)")


# Literal words (lower-case) that every match of _MARKER holds: its gate (classifiers._gate).
_MARKER_WORDS: Final = ("(reason:", "transcript of session follows")  # the third: not ASCII


class DocomoDialect:
    """docomo returned mail (see the module docstring)."""

    name = "docomo"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a docomo notice, else ``None``."""
        if has_report_part(msg) or not is_system_sender(msg) or not _is_docomo(msg):
            return None
        body = notification_text(msg, text)
        if not may_contain(body, _MARKER_WORDS) or not _MARKER.search(body):
            return None
        lines = lines_before(body, _END)
        reasons = _reasons(lines)
        replies = _replies(lines)
        fallback = _last_error(lines) or gloss("\n".join(lines))
        return [
            Finding(a, with_gloss(reasons.get(a) or replies.get(a) or fallback))
            for a in (reasons or replies)
        ]


def _is_docomo(msg: Message) -> bool:
    return any(_HOST.search(header_text(msg, name)) for name in ("From", "Message-Id"))


def _reasons(lines: list[str]) -> dict[str, str]:
    """Each ``<address>`` line, with the ``(reason: …)`` line under it (``""`` if none)."""
    out: dict[str, str] = {}
    current = ""
    for line in lines:
        m = _ADDRESS_LINE.match(line)
        reason = _REASON.match(line)
        if m is not None:
            current = address_of(m.group(1))
            out.setdefault(current, "")
        elif reason is not None and current:
            out[current] = reason.group(1).strip()
            current = ""
    return out


def _last_error(lines: list[str]) -> str:
    """The transcript's last ``<<<`` error reply (a refusal after ``DATA`` is every
    recipient's), ``""`` when it has none."""
    errors = [m.group(1) for line in lines if (m := _SAID.match(line.strip()))]
    return next((e for e in reversed(errors) if _ERROR.match(e)), "")


def _replies(lines: list[str]) -> dict[str, str]:
    """The transcript: each ``>>> RCPT To:<address>`` with the ``<<<`` reply lines after it."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in lines:
        rcpt = _RCPT.match(line.strip())
        said = _SAID.match(line.strip())
        if rcpt is not None:
            current = address_of(rcpt.group(1))
            out.setdefault(current, [])
        elif said is not None and current:
            out[current].append(said.group(1))
        elif line.strip().startswith(">>>"):
            current = ""
    return {a: squash(reply) for a, reply in out.items()}


DIALECT: Final = DocomoDialect()

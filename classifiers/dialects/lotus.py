"""Lotus (HCL) Domino's "DELIVERY FAILURE" report.

Shape (text/plain, the returned headers after a dashed line; Domino gateways
sometimes end lines with a bare CR, which parsing already turns into LF)::

    From: Postmaster@notes.example.com
    Subject: DELIVERY FAILURE: User jdoe (jdoe@notes.example.com) not listed in
     Domino Directory
    X-MIMETrack: Serialize by Router on MAILHUB/Example(Release 9.0.1FP10 …)

    Your message

      Subject: Your June offers

    was not delivered to:

      jdoe@notes.example.com

    because:

      User jdoe (jdoe@notes.example.com) not listed in Domino Directory

    ----- Headers of the returned message follow -----

Every address listed between "was not delivered to:" and "because:" failed for
the one reason after "because:" (the paragraph up to the next blank line). When
that paragraph is missing, the reason is taken from the Subject after
"DELIVERY FAILURE:".

Localised servers translate the frame: German "wurde nicht zugestellt an:" /
"weil:", French "n'a pas été remis à :" / "parce que :", Japanese
"は次の宛先に配信されませんでした:" (or "以下の宛先") / "理由:", the reason then in
Japanese too: its known phrases are glossed in English for the rule table.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._original import address_of
from classifiers.dialects import Finding
from classifiers.dialects._common import (
    has_report_part,
    header_text,
    is_system_sender,
    notification_text,
    squash,
)
from classifiers.dialects._japanese import with_gloss

__all__ = ["DIALECT", "LotusDialect"]

_SUBJECT: Final = re.compile(r"^\s*DELIVERY[ _]FAILURE:?\s*(.*)$", re.IGNORECASE | re.DOTALL)
_PRODUCT: Final = re.compile(r"Lotus|Domino|Notes", re.IGNORECASE)
# The English report and its German and French translations (localised Domino servers
# translate the frame; the router's reason often stays English).
_NOT_DELIVERED: Final = re.compile(
    r"^\s*(?:was not delivered to|wurde nicht zugestellt an|n'a pas été remis à|"
    r"は(?:次の|以下の)(?:宛先|あて先)に配信されませんでした)\s*(?::|\uff1a)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_BECAUSE: Final = re.compile(
    r"^\s*(?:because|weil|parce que|理由)\s*(?::|\uff1a)\s*$", re.IGNORECASE | re.MULTILINE
)
_END: Final = re.compile(r"^-{3,}", re.MULTILINE)


class LotusDialect:
    """Domino delivery failure reports (see the module docstring)."""

    name = "lotus-domino"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a Domino report, else ``None``."""
        if has_report_part(msg) or not _is_domino(msg):
            return None
        body = notification_text(msg, text)
        listed = _NOT_DELIVERED.search(body)
        because = _BECAUSE.search(body, listed.end()) if listed is not None else None
        if listed is None or because is None:
            return None
        addresses = [address_of(line) for line in body[listed.end() : because.start()].split("\n")]
        diag = with_gloss(_reason(body[because.end() :]) or _subject_reason(msg))
        return [Finding(a, diag) for a in dict.fromkeys(a for a in addresses if a)]


def _is_domino(msg: Message) -> bool:
    """Domino's failure Subject, or a Domino header (X-MIMETrack, a Notes X-Mailer) on mail
    from a system sender (a person forwarding a report from Notes has the header too)."""
    if _SUBJECT.match(header_text(msg, "Subject")):
        return True
    domino = msg.get("X-MIMETrack") is not None or _PRODUCT.search(header_text(msg, "X-Mailer"))
    return bool(domino) and is_system_sender(msg)


def _reason(rest: str) -> str:
    """The first paragraph after "because:", before the returned headers."""
    end = _END.search(rest)
    paragraph: list[str] = []
    for line in rest[: end.start() if end else len(rest)].split("\n"):
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line)
    return squash(paragraph)


def _subject_reason(msg: Message) -> str:
    m = _SUBJECT.match(header_text(msg, "Subject"))
    return squash([m.group(1)]) if m else ""


DIALECT: Final = LotusDialect()

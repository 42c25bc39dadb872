"""Exchange 2007 to Exchange Online non-delivery reports whose delivery-status part is gone.

Exchange sends a multipart/report, read by the RFC 3464 parser. The human part also
arrives alone: forwarded by a gateway or journaling system that keeps only text,
or converted by a client. Shape (text/plain, quoted-printable in the wild)::

    Subject: Undeliverable: Spring offers

    Delivery has failed to these recipients or groups:
    (2007: "… these recipients or distribution lists:")
    (2013+: "Your message to kim@corp.example couldn't be delivered.")

    Kim Lee (kim@corp.example)<mailto:kim@corp.example>
    The email address you entered couldn't be found. …

    Diagnostic information for administrators:

    Generating server: EX01.corp.example

    kim@corp.example
    #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##          (2007/2010)
    Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'   (2013+)

    Original message headers:
    To: <kim@corp.example>                         (the original: never read)

The headings are also recognised in German, French and Spanish ("Die Zustellung an
folgende Empfänger oder Gruppen ist fehlgeschlagen:", "Diagnoseinformationen für
Administratoren:", "Ursprüngliche Nachrichtenkopfzeilen:" …).

The administrators' section gives one block per recipient: the address alone on a
line, then its reply (the quoted text of "… returned '…'", or the text between
"#" and "##"). "Delivery is delayed to these recipients" makes the findings
temporary. Without that section, the recipients come from the user section's
"Name (address)" lines, each with the explanation under it.
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

__all__ = ["DIALECT", "ExchangeNdrDialect"]

# The headings in English, German, French and Spanish (Exchange localises the NDR to
# the organisation's language).
_USER: Final = re.compile(
    r"^\s*(?:Delivery (?:has failed|is delayed) to these recipients or "
    r"(?:groups|distribution lists)|"
    r"Die Zustellung an folgende Empfänger oder Gruppen (?:ist fehlgeschlagen|verzögert sich)|"
    r"La remise aux destinataires ou groupes suivants (?:a échoué|est retardée)|"
    r"Error en la entrega a estos destinatarios o grupos)\s*:?\s*$|"
    r"^\s*Your message to \S+ couldn.t be delivered\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_DELAYED: Final = re.compile(
    r"Delivery is delayed to these|verzögert sich|est retardée", re.IGNORECASE
)
_ADMIN: Final = re.compile(
    r"^\s*(?:Diagnostic information for administrators|Diagnoseinformationen für Administratoren|"
    r"Informations de diagnostic pour les administrateurs|"
    r"Información de diagnóstico para administradores)\s*:?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_END: Final = re.compile(
    r"^\s*(?:Original message headers|Ursprüngliche Nachrichtenkopfzeilen|"
    r"En-têtes de message d.origine|Encabezados del mensaje original)\s*:?\s*$",
    re.IGNORECASE,
)
_ALONE: Final = re.compile(rf"^\s*<?({ADDRESS})>?\s*$")
_NAMED: Final = re.compile(rf"^\s*(?:[^()<>]*\()?<?({ADDRESS})>?\)?(?:\s*<mailto:[^>]*>)?\s*$")
_SERVER: Final = re.compile(
    r"^\s*(?:(?:Generating|Receiving|Sending) server|(?:Generierender|Empfangender|Sendender) "
    r"Server|Serveur d[e']\s*\S+|Servidor de \S+)\s*:",
    re.IGNORECASE,
)
# "Remote Server returned '…'", "Der Remoteserver hat '…' zurückgegeben", "Le serveur
# distant a retourné '…'": the reply is the quoted span, whatever the language.
_RETURNED: Final = re.compile(r"'(.*)'", re.DOTALL)
_HASHES: Final = re.compile(r"^#\s*(.*?)\s*##.*$", re.DOTALL)
# Exchange's NDR sender ("Microsoft Outlook <MicrosoftExchange329e…@…>"); a person
# forwarding an NDR's text is not one.
_EXCHANGE_SENDER: Final = re.compile(r"MicrosoftExchange|Microsoft (?:Outlook|Exchange)", re.I)


# Literal words (lower-case) that every match of _USER holds: its gate (classifiers._gate).
_USER_WORDS: Final = (
    "to these recipients or ",
    "die zustellung an folgende",
    "la remise aux destinataires ou groupes suivants",
    "error en la entrega a estos destinatarios o grupos",
    "your message to ",
)


class ExchangeNdrDialect:
    """Exchange NDR text without its delivery-status part (see the module docstring)."""

    name = "exchange-ndr"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed or delayed recipients of an Exchange NDR text, else ``None``."""
        if has_report_part(msg) or not _from_exchange(msg):
            return None
        body = notification_text(msg, text)
        user = _USER.search(body) if may_contain(body, _USER_WORDS) else None
        if user is None:
            return None
        temporary = bool(_DELAYED.search(body))
        admin = _ADMIN.search(body, user.end())
        if admin is not None:
            blocks = _blocks(lines_before(body[admin.end() :], _END), _ALONE)
            findings = [Finding(a, _reply(lines), temporary) for a, lines in blocks]
            if findings:
                return findings
        end = admin.start() if admin is not None else len(body)
        blocks = _blocks(lines_before(body[user.end() : end], _END), _NAMED)
        return [Finding(a, squash(lines), temporary) for a, lines in blocks]


def _from_exchange(msg: Message) -> bool:
    if is_system_sender(msg) or "X-MS-Exchange-Message-Is-Ndr" in msg:
        return True
    return bool(_EXCHANGE_SENDER.search(header_text(msg, "From")))


def _blocks(lines: list[str], head: re.Pattern[str]) -> list[tuple[str, list[str]]]:
    """``(address, lines under it)`` for each line ``head`` matches, up to a blank line."""
    out: list[tuple[str, list[str]]] = []
    open_block = False
    for line in lines:
        m = head.match(line)
        if m is not None:
            out.append((m.group(1), []))
            open_block = True
        elif not line.strip() or _SERVER.match(line):
            open_block = False
        elif open_block:
            out[-1][1].append(line)
    return out


def _reply(lines: list[str]) -> str:
    text = squash(lines)
    if (m := _HASHES.match(text)) is not None:
        return m.group(1)
    if (m := _RETURNED.search(text)) is not None:
        return m.group(1).strip()
    return text


DIALECT: Final = ExchangeNdrDialect()

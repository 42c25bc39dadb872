"""sendmail's plain-text "Returned mail" reports, sent without a delivery-status part.

sendmail V5 (and V8 built or configured without DSN) writes a transcript of the
session and returns the message after it::

    From: Mail Delivery Subsystem <MAILER-DAEMON@mail.example.net>
    Subject: Returned mail: User unknown

       ----- Transcript of session follows -----
    While talking to mx.example.org:
    >>> RCPT To:<ann@example.org>
    <<< 550 5.1.1 <ann@example.org>... User unknown
    550 <ann@example.org>... User unknown

       ----- Unsent message follows -----

V8 puts a list of the failed addresses before the transcript, each with an
optional "(reason: …)" line, under "The following addresses had permanent fatal
errors" (or "… transient non-fatal errors" in a warning)::

       ----- The following addresses had permanent fatal errors -----
    <bob@example.org>
        (reason: 550 5.1.1 <bob@example.org>... User unknown)

       ----- Transcript of session follows -----
    ... while talking to mx.example.org.:
    >>> RCPT To:<bob@example.org>
    <<< 550 5.1.1 <bob@example.org>... User unknown

       ----- Original message follows -----

The diagnostic of an address is the remote reply to its ``RCPT`` (``<<<`` after
``>>> RCPT To:<…>``), else a reply to a later command (``DATA``, or ``MAIL`` when
the whole session was refused), else the V8 "(reason: …)" line, else sendmail's
own "NNN <address>... text" line, else a line of its own that names no address
("554 Too many hops …"). An "(expanded from: <alias>)" line under a listed address
adds the alias (the address we sent to) before its expansion, with the same
diagnostic. A "Deferred: …" line makes an address temporary unless sendmail then
gave up on it ("<ann@example.org>... Cannot send message for 5 days"): the report is
final and the deferral's reason stays its diagnostic.

Local delivery on the recipient's own host names the user without a domain
("550 ann... User unknown"). Such a verdict applies to the returned message's
recipient (``To``, ``Cc`` or our ``X-Acctpipe-Rcpt``) with that local part: the
header block after the "Unsent/Original message follows" line is read for that
alone; the rest of the returned original never is.
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
)

__all__ = ["DIALECT", "SendmailDialect", "sendmail_findings"]

_SUBJECT: Final = re.compile(r"^\s*(?:Returned mail|Warning: could not send)", re.IGNORECASE)
_MARKER: Final = re.compile(
    r"^\s*-{3,}\s*(?:Transcript of session follows|"
    r"The following addresses? had (?:permanent fatal|transient non-fatal) errors)",
    re.IGNORECASE | re.MULTILINE,
)
# The same section names unanchored, for a quick test of the whole text.
# (case-sensitive, as sendmail writes them: a case-blind scan costs more).
_SECTION_NAME: Final = re.compile(r"Transcript of session follows|following address")
_END: Final = re.compile(
    r"^\s*-{3,}\s*(?:Unsent message|Original message|Returned message|Message header|"
    r"Original message header)s? follows?",
    re.IGNORECASE,
)
_SECTION: Final = re.compile(r"^\s*-{3,}\s*(.*?)\s*-*\s*$")
_LISTED: Final = re.compile(rf"^\s*<?({ADDRESS})>?\s*(?:\(reason:\s*(.*?)\)?)?\s*$")
_REASON: Final = re.compile(r"^\s*\(reason:\s*(.*?)\)?\s*$", re.IGNORECASE)
_EXPANDED: Final = re.compile(rf"^\s*\(expanded from:\s*<?({ADDRESS})>?\s*\)", re.IGNORECASE)
_CODE: Final = re.compile(r"^[245]\d\d[ -]")
# sendmail's verdict on a local user, named without a domain: "550 ann... User unknown".
_OWN_LOCAL: Final = re.compile(
    r"^([245]\d\d)[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?<?([^\s<>@\"]+)>?\.\.\.\s*(.*)$"
)
# sendmail gave up on an address after deferring it: the report is final.
_GAVE_UP: Final = re.compile(r"^Cannot send message (?:for|within) \d+", re.IGNORECASE)
# Header fields of the returned original that name its recipients.
_RCPT_FIELD: Final = re.compile(r"^(?:To|Cc|X-Acctpipe-Rcpt):(.*)$", re.IGNORECASE)
_COMMAND: Final = re.compile(rf"^>>>\s*(\w+)(?:\s+To:\s*<?({ADDRESS})>?)?", re.IGNORECASE)
_REPLY: Final = re.compile(r"^<<<\s*(.*)$")
# sendmail's own verdict on an address: "550 5.1.1 <a@b>... User unknown", or without
# a code "<a@b>... Deferred: Connection timed out with …" in a warning.
_OWN: Final = re.compile(
    rf"^(?:([245]\d\d)[ -](?:[245]\.\d{{1,3}}\.\d{{1,3}}\s+)?)?<?({ADDRESS})>?\.\.\.\s*(.*)$"
)


class SendmailDialect:
    """sendmail V5/V8 text reports (see the module docstring)."""

    name = "sendmail"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of a sendmail text report, else ``None``."""
        # cheap test on the whole text first: most messages have no sendmail section
        if not _SECTION_NAME.search(text) or has_report_part(msg):
            return None
        if not (is_system_sender(msg) or _SUBJECT.match(header_text(msg, "Subject"))):
            return None
        body = notification_text(msg, text)
        return sendmail_findings(body, _returned_recipients(body))


def _returned_recipients(body: str) -> list[str]:
    """The recipients named in the header block of the returned original, if any."""
    lines = body.split("\n")
    start = next((i + 1 for i, line in enumerate(lines) if _END.match(line)), None)
    if start is None:
        return []
    found: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            if found:
                break
            continue
        field = _RCPT_FIELD.match(line)
        if field is not None:
            found.extend(re.findall(ADDRESS, field.group(1)))
    return [a.strip("<>.") for a in found]


def sendmail_findings(body: str, returned: list[str] | None = None) -> list[Finding] | None:
    """The findings of a body in sendmail's layout, ``None`` when it has none of its markers.

    ``returned`` are the returned original's recipients, to which a verdict naming a
    local user without a domain applies.
    """
    start = _MARKER.search(body)
    if start is None:
        return None
    order: dict[str, None] = {}
    reasons: dict[str, str] = {}
    replies: dict[str, str] = {}
    own: dict[str, str] = {}
    transient: set[str] = set()
    session = ""
    local = ""
    aliases: dict[str, str] = {}
    section = ""
    command, target = "", ""
    accepted: dict[str, None] = {}
    gave_up: set[str] = set()
    for line in lines_before(body[start.start() :], _END):
        heading = _SECTION.match(line) if line.lstrip().startswith("---") else None
        if heading is not None:
            section = heading.group(1).lower()
            continue
        if "following address" in section:
            listed = _LISTED.match(line)
            if listed is not None:
                target = listed.group(1)
                order.setdefault(target)
                if "transient" in section:
                    transient.add(target)
                if listed.group(2):
                    reasons[target] = listed.group(2)
            elif (reason := _REASON.match(line)) is not None and target:
                reasons[target] = reason.group(1)
            elif (expanded := _EXPANDED.match(line)) is not None and target:
                # an alias: the address we sent to comes first, its expansion stays
                alias = expanded.group(1)
                order = {k: None for a in order for k in ((alias, a) if a == target else (a,))}
                aliases[alias] = target
            continue
        stripped = line.strip()
        if (cmd := _COMMAND.match(stripped)) is not None:
            command, target = cmd.group(1).upper(), cmd.group(2) or ""
        elif (reply := _REPLY.match(stripped)) is not None:
            if reply.group(1).startswith("2"):
                # an accepted command is no failure: a recipient the server took failed
                # only if a later command (DATA) was refused, which ``session`` holds
                if command == "RCPT" and target:
                    accepted.setdefault(target)
            elif command == "RCPT" and target:
                order.setdefault(target)
                replies.setdefault(target, reply.group(1))
            elif not session:
                session = reply.group(1)
        elif (mine := _OWN.match(stripped)) is not None:
            order.setdefault(mine.group(2))
            if _GAVE_UP.match(mine.group(3)):
                transient.discard(mine.group(2))  # final: a deferral's reason stays
                gave_up.add(mine.group(2))
                own.setdefault(mine.group(2), stripped)
                continue
            own.setdefault(mine.group(2), stripped)
            if mine.group(2) in gave_up:
                continue
            if (mine.group(1) or "").startswith("4") or mine.group(3).startswith("Deferred"):
                transient.add(mine.group(2))
        elif (user := _OWN_LOCAL.match(stripped)) is not None and returned:
            for address in returned:
                if address.rpartition("@")[0].lower() == user.group(2).lower():
                    order.setdefault(address)
                    own.setdefault(address, stripped)
        elif _CODE.match(stripped) and not local:
            local = stripped  # sendmail's own verdict naming no address ("554 Too many hops …")
    if session:
        for address in accepted:
            order.setdefault(address)
    findings = []
    for address in order:
        key = aliases.get(address, address)  # an alias shares its expansion's diagnostic
        diag = replies.get(key) or session or reasons.get(key) or own.get(key) or local
        findings.append(Finding(address, diag, key in transient))
    return findings


DIALECT: Final = SendmailDialect()

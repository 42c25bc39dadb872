"""The generic reader: any human-readable bounce no vendor dialect claimed.

It runs last among the dialects, before flufl.bounce, and reads the layouts that
every kind of MTA, gateway and appliance shares::

    X-Failed-Recipients: ann@example.org              (header: the recipients)

    Delivery to the following recipient failed permanently:
         ann@example.org
    Technical details of permanent failure: ...
    The error that the other server returned was:
    550-5.1.1 The email account that you tried to reach does not exist. ...

    bo@example.net
       Remote host said: 552 5.2.2 Mailbox full

    dan@example.com: 550 5.1.1 No such user here
    <eve@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 ...

    Out: RCPT TO:<gus@example.net>                    (quoted SMTP transcript;
    In:  550 5.1.1 <gus@example.net>... User unknown   ">>>"/"<<<" alike)

A recipient is an address in the notification's own text (never the returned
original: the text stops at the "copy of the message" divider or the first header
of the original, and message/* parts are not read) with an SMTP reply code or an
RFC 3463 enhanced status on its line or within a few lines after it, or a reply
without code introduced by "said:", "Reason:", "… returned was:" and the like; that
reply and its continuation lines are the diagnostic, so the reply rules decide the
class.
When ``X-Failed-Recipients`` is present it is the list of recipients; an address
the text gives no reply for gets the message's one reply, if it has exactly one and
that reply is not next to another address.
Without that header, when no address has a reply, the addresses the text names as
recipients are taken, with their sentence (or the heading above a bare list) as the
reply::

    The message you sent to ann@example.org was rejected because …
    Recipient: [SMTP:bo@example.org]
    Mailbox full:
       cy@example.org

Never a recipient: our sender after "from" or quoted in a reply ("<addr>: Sender
address rejected"), a contact ("forward this error to abuse@…"), an address mail was
delivered to, and anything in an original quoted with "> " or pasted inline as an
unindented header block with a From line. A message naming no recipient is left to
flufl.bounce.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._mime import decode_header_value
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

__all__ = ["DIALECT", "DIVIDER", "GenericDialect"]

_ADDRESS: Final = re.compile(ADDRESS)
_SUBJECT: Final = re.compile(
    r"undeliver|delivery (?:status notification|failure|failed|has failed|problem)|"
    r"failure notice|returned mail|mail delivery failed|non[- ]?delivery|not delivered|"
    r"could not be delivered|delivery error|nondeliverable|returned to sender",
    re.IGNORECASE,
)
_FORWARD: Final = re.compile(r"^\s*(?:fwd?|fw|re|aw|wg|tr|rv)\s*:", re.IGNORECASE)
# Where the notification ends and the returned original begins.
DIVIDER: Final = re.compile(
    r"^\s*-{2,}.*(?:original message|copy of the message|undelivered message|returned message|"
    r"message follows|forwarded message|message headers|headers follow)|"
    r"^\s*(?:original message (?:headers|follows|text)|below this line is a copy)|"
    r"^(?:Received|Return-Path|DKIM-Signature|Message-I[dD]|MIME-Version|X-Acctpipe-[\w-]+):|"
    r"^>[ \t]?(?:From|Return-Path|Received|Message-I[dD]|Date|Subject|Reply-To):",
    re.IGNORECASE,
)
# An original pasted inline without a divider: an unindented header block that has a
# From line (the notice's own "To:/Subject:/Sent:" summary names no sender).
_PASTED_HEADER: Final = re.compile(
    r"^(?:From|To|Cc|Subject|Date|Reply-To|Sender|X-Mailer|Content-Type|MIME-Version):",
    re.IGNORECASE,
)
# Lines that echo the original's headers, or our envelope sender, name no recipient.
_NOT_RECIPIENT: Final = re.compile(
    r"^[\s>]*(?:to|cc|bcc|from|reply-to|sender|subject|date|sent)\s*:|mail\s+from\s*:",
    re.IGNORECASE,
)
# "Your message from <sender> to <recipient>": the address after "from" is ours.
_FROM_ADDRESS: Final = re.compile(
    rf"(?:^|[^a-z])from\s*:?\s*(?:<|\"[^\"]*\"\s*<|(?:(?!to\s)[^<>@\s,;:]+\s+){{1,4}}<)?"
    rf"((?>{ADDRESS}))",
    re.IGNORECASE,
)
# Our envelope sender quoted in a reply ("550 5.1.8 <addr>: Sender address rejected",
# "Domain of sender address addr does not exist"): the receiver refused us, not it.
_SENDER_ADDRESS: Final = re.compile(
    rf"sender(?: address)?(?: of)?\s*:?\s*<((?>{ADDRESS}))>|sender address\s+((?>{ADDRESS}))|"
    rf"<((?>{ADDRESS}))>\s*:?\s*sender",
    re.IGNORECASE,
)
# The words before an address that make it a contact, not a recipient ("forward this
# error to abuse@…", "questions? send an email to support@…"), or one delivered to.
_CONTACT: Final = re.compile(
    r"(?:forward|write|send|reply|contact|assistance|questions?|complaints?|inquir|"
    r"further information|(?:^|[^a-z])(?:help|support))|(?:^|[^t])(?:delivered|relayed) to",
    re.IGNORECASE,
)
_CLAUSE: Final = re.compile(r".*(?:[.;,!?]|\sbut\s)", re.IGNORECASE)
_NEGATION: Final = re.compile(r"not|n't|unable|fail|couldn|could", re.IGNORECASE)
# An address a sentence names as the one mail went to, without a reply on its line:
# "your message to X", "Recipient: [SMTP:X]", "Unknown user: X", "deliver to '<X>'".
_NAMED: Final = re.compile(
    r"(?:^|[^a-z])(?:to|for|recipients?|user|address(?:es)?|addressee|mailbox|account|"
    r"full|unknown|not found|disabled|rejected|"
    r"a|à|an|aan|do|para|per|till|til|na)\s*:?\s*[<'\"\[(]*(?:smtp:)?$",  # "entregado a X" …
    re.IGNORECASE,
)
_DAEMON: Final = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)
# An SMTP reply code where a reply starts: line start, after a colon, "said",
# "<<<" or "<--" (the server's side of a quoted transcript).
_CODE: Final = re.compile(r"(?:^|:|<<<|<--|\bsaid\b)\s*(?:<--\s*)?([45][0-5]\d)(?=[ \t-]|$)", re.I)
_STATUS: Final = re.compile(r"(?<![\w.])([45])\.\d{1,3}\.\d{1,3}(?![\w.])")  # RFC 3463
_CLIENT_LINE: Final = re.compile(r"^\s*(?:>>>|out\s*:)|-->\s", re.IGNORECASE)  # our side
# "<addr>: reason" or a bare "addr" line (a list of recipients sharing a reason).
_ADDRESS_LINE: Final = re.compile(
    rf"^\s*<?((?>{ADDRESS}))>?(?:\s+\(expanded from <?(?>{ADDRESS})>?\))?\s*(?::\s*(\S.*))?$"
)
_ELLIPSIS: Final = re.compile(r"\.{2,}.*$")
_EXPANDED: Final = re.compile(rf"\(expanded from <?((?>{ADDRESS}))>?\)", re.IGNORECASE)
# Words that introduce the remote server's answer when it carries no code.
_MARKER: Final = re.compile(
    r"\b(?:said|reason(?: given)?|returned was|response was|reply was|diagnostic(?:-code)?|"
    r"error (?:message|text)|dns error)\s*:\s*",
    re.IGNORECASE,
)
_WARNING: Final = re.compile(
    r"warning|will (?:continue to |keep )?(?:try|retry)|still (?:trying|being retried)|"
    r"not yet been delivered|delayed",
    re.IGNORECASE,
)
_WINDOW: Final = 10  # lines after an address in which its reply may come
_MAX_DIAG_LINES: Final = 6
_MAX_DIAG: Final = 1000
# Bounds against hostile input (the atomic groups above keep the anchored address
# patterns linear): SMTP lines are at most 1000 octets (RFC 5321 section 4.5.3.1.6).
_MAX_LINE: Final = 1000
_MAX_LINES: Final = 2000
_MAX_RECIPIENTS: Final = 200


class GenericDialect:
    """Human-readable bounces of any vendor (see the module docstring)."""

    name = "generic"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients with their replies, or ``None`` when it finds none."""
        failed = _failed_recipients(msg)
        if has_report_part(msg) or not (failed or _looks_like_bounce(msg)):
            return None
        own_text = _before_pasted(
            lines_before(notification_text(msg, text, fall_back=False), DIVIDER)
        )
        lines = [line[:_MAX_LINE] for line in own_text[:_MAX_LINES]]
        own = _own_addresses(msg)
        found, per_line = _recipients(lines, own)
        if failed:
            # The header is the list of recipients; the text only says why.
            # A reply that went to an address in the text is not shared with the others.
            attached = any(diag for _, diag in found.values())
            shared = "" if attached else _single_reply(lines, per_line)
            pairs = [(a, found.get(a.lower(), ("", ""))[1] or shared) for a in failed]
        else:
            pairs = [(a, d) for a, d in found.values() if d] or _named(lines, per_line)
            if not pairs:
                return None  # addresses without any reason: flufl.bounce's ground
        warning = bool(_WARNING.search("\n".join(lines)))
        return [Finding(a, d, warning and _temporary(d)) for a, d in pairs]


def _looks_like_bounce(msg: Message) -> bool:
    subject = header_text(msg, "Subject")
    if is_system_sender(msg):
        return True
    if is_list_mail(msg):
        return False  # a newsletter about "undeliverable parcels"; a bounce has no list headers
    return not _FORWARD.match(subject) and bool(_SUBJECT.search(subject))


def is_list_mail(msg: Message) -> bool:
    """Whether the message carries an unsubscribe link (RFC 2369), as bulk mail does.
    (Not ``List-Id``: a list forwards a bounce to its owner with its own headers.)"""
    return msg.get("List-Unsubscribe") is not None


def _before_pasted(lines: list[str]) -> list[str]:
    """The lines before an original pasted inline without a divider (see ``_PASTED_HEADER``)."""
    for i in range(len(lines) - 1):
        pair = lines[i : i + 2]
        if all(_PASTED_HEADER.match(x) for x in pair) and any(
            x[:5].lower() == "from:" for x in pair
        ):
            return lines[:i]
    return lines


def _named(lines: list[str], per_line: list[list[str]]) -> list[tuple[str, str]]:
    """Addresses the text names as recipients without a reply next to them: a bare
    address line, or an address a sentence introduces ("your message to X"). The reply
    is the sentence, or for a bare line the heading above its list ("Mailbox full:");
    when that decides nothing, the caller takes the notice's reason."""
    out: dict[str, tuple[str, str]] = {}
    heading = ""
    for line, addresses in zip(lines, per_line, strict=True):
        bare = _ADDRESS_LINE.match(line)
        if not addresses and line.strip():
            heading = line.strip() if line.rstrip().endswith(":") else ""
        for address in addresses:
            at = line.find(address)
            if bare and bare.group(1) == address:
                out.setdefault(address.lower(), (address, heading))
            elif at >= 0 and (_NAMED.search(line[:at]) or not line[:at].strip(" \t<'\"[")):
                # "X (Error: User X does not exist)", "Unknown address: X".
                sentence = squash([line.replace(address, "")])
                out.setdefault(address.lower(), (address, sentence))
    return list(out.values())[:_MAX_RECIPIENTS]


def _failed_recipients(msg: Message) -> list[str]:
    out: dict[str, str] = {}
    for value in msg.get_all("X-Failed-Recipients") or []:
        for m in _ADDRESS.finditer(decode_header_value(value)):
            out.setdefault(m.group(0).lower(), m.group(0))
    return list(out.values())


def _own_addresses(msg: Message) -> set[str]:
    names = ("To", "From", "Return-Path", "Delivered-To", "Sender", "Reply-To")
    return {m.group(0).lower() for n in names for m in _ADDRESS.finditer(header_text(msg, n))}


def _candidates(line: str, own: set[str]) -> list[str]:
    if _NOT_RECIPIENT.search(line):
        return []
    expanded = _EXPANDED.search(line)  # an alias: the address we sent to is the outer one
    found = [expanded.group(1)] if expanded else [m.group(0) for m in _ADDRESS.finditer(line)]
    senders = {m.group(1).lower() for m in _FROM_ADDRESS.finditer(line)}
    senders |= {(x or y or z).lower() for x, y, z in _SENDER_ADDRESS.findall(line)}
    found = [x for x in found if x.lower() not in senders and not _is_contact(line, x)]
    # Sendmail writes "addr... User unknown": the dots end the address.
    cleaned = (_unquote(_ELLIPSIS.sub("", x).strip(".")) for x in found)
    return [a for a in cleaned if a.lower() not in own and not _DAEMON.match(a)]


def _unquote(address: str) -> str:
    """``'ann@example.org'`` (CommuniGate, many sentences) without the single quotes."""
    if len(address) > 2 and address[0] == address[-1] == "'":
        return address[1:-1].strip(".")
    return address


def _is_contact(line: str, address: str) -> bool:
    """Whether the words before ``address`` make it a contact or an address mail was
    delivered to: "forward this error to help@…", "was delivered to amy@…"."""
    clause = _CLAUSE.sub("", line[: max(line.find(address), 0)])  # since the last clause
    return bool(_CONTACT.search(clause)) and not _NEGATION.search(clause)


def _recipients(
    lines: list[str], own: set[str]
) -> tuple[dict[str, tuple[str, str]], list[list[str]]]:
    """Each recipient address (lower-cased key) with its reply, in order of appearance,
    and the recipient addresses on each line."""
    per_line = [_candidates(line, own) for line in lines]
    out: dict[str, tuple[str, str]] = {}
    for i, addresses in enumerate(per_line):
        for address in addresses:
            key = address.lower()
            if len(out) >= _MAX_RECIPIENTS and key not in out:
                break
            if not out.get(key, ("", ""))[1]:
                out[key] = (address, _reply_after(lines, per_line, i, key))
    return out, per_line


def _reply_after(lines: list[str], per_line: list[list[str]], i: int, key: str) -> str:
    """The reply on line ``i`` or in the next lines, unless another recipient's block
    comes first; consecutive bare address lines are a list sharing the reply below."""
    in_own_block = after_marker = False
    for j in range(i, min(i + _WINDOW + 1, len(lines))):
        line = lines[j]
        start = _reply_start(line)
        heads = start is None or _ADDRESS.search(line[:start]) is not None
        if j > i and heads and any(a.lower() != key for a in per_line[j]):
            # Another recipient's line (not an address quoted inside a reply).
            bare = _ADDRESS_LINE.match(line)
            if in_own_block or bare is None or bare.group(2):
                return ""
            continue
        if start is None and j == i and (m := _ADDRESS_LINE.match(line)) and m.group(2):
            start = m.start(2)  # "<addr>: reason" without a code: the reason still counts
        if start is None and line.strip():
            # "Remote host said: mailbox full" / "… returned was:" then the text below.
            marker = _MARKER.search(line)
            if marker is not None and line[marker.end() :].strip():
                start = marker.end()
            elif marker is None and after_marker:
                start = len(line) - len(line.lstrip())
            after_marker = marker is not None
        if start is not None:
            return _diag(lines, per_line, j, start)
        in_own_block = in_own_block or (j > i and bool(line.strip()))
    return ""


def _reply_start(line: str) -> int | None:
    """Where the reply on ``line`` starts, or ``None`` when it carries none."""
    if _CLIENT_LINE.search(line):
        return None
    if code := _CODE.search(line):
        return code.start(1)
    if _STATUS.search(line) is None:
        return None
    m = _ADDRESS_LINE.match(line)  # "addr: text (#5.1.1)": the text is the reply
    return m.start(2) if m and m.group(2) else len(line) - len(line.lstrip())


def _diag(lines: list[str], per_line: list[list[str]], j: int, start: int) -> str:
    paragraph = _paragraph(lines, per_line, j)
    return squash([lines[j][start:], *(lines[k] for k in paragraph[1:])])[:_MAX_DIAG]


def _paragraph(lines: list[str], per_line: list[list[str]], j: int) -> range:
    """Line ``j`` and its continuation lines: up to a blank line, our side's next
    transcript line, or an unindented line naming a recipient."""
    end = j + 1
    while end < min(j + _MAX_DIAG_LINES, len(lines)):
        line = lines[end]
        if not line.strip() or _CLIENT_LINE.search(line):
            break
        if per_line[end] and not line[:1].isspace():
            break
        end += 1
    return range(j, end)


def _single_reply(lines: list[str], per_line: list[list[str]]) -> str:
    """The message's reply when it gives exactly one (for recipients named elsewhere)."""
    replies: set[str] = set()
    j = 0
    while j < len(lines):
        start = _reply_start(lines[j])
        if start is None:
            j += 1
            continue
        replies.add(_diag(lines, per_line, j, start))
        j = _paragraph(lines, per_line, j).stop
    return replies.pop() if len(replies) == 1 else ""


def _temporary(diag: str) -> bool:
    m = _CODE.search(diag) or _STATUS.search(diag)
    return m is not None and m.group(1).startswith("4")


DIALECT: Final = GenericDialect()

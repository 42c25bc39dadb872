"""The SMTP listener's decisions that need no socket (sans-IO): parameters, trace, headers.

The core (:mod:`mta.smtp_server.protocol`) parses the command lines and runs
the session state machine; the policy's building blocks are here, as pure
functions tested with strings and bytes alone: the DSN parameters (RFC 3461),
which addresses we accept (RFC 6531), the ``Received:`` trace field (RFC 5321
section 4.4), the control headers a submitter talks to us with, and the EHLO
keyword list.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Final

from mta.acct.rejectlog import reject_reason
from mta.address import mailbox_problem
from mta.config.model import Config, Listener, Source
from mta.delivery.headers import CONTROL_HEADERS, take_headers
from mta.smtp_server.relay import Decision

__all__ = [
    "UNKNOWN_VMTA_REPLY",
    "MailParams",
    "Prepared",
    "address_refusal",
    "command_refusal",
    "decode_xtext",
    "ehlo_lines",
    "parse_params",
    "prepare_message",
    "printable",
    "received_header",
    "split_path",
    "with_protocol",
]

UNKNOWN_VMTA_REPLY: Final = "550 5.7.1 X-Virtual-MTA names no virtual MTA or pool here"
"""End of DATA when a honoured X-Virtual-MTA is unknown: permanent, a policy refusal.

550 is one of the codes RFC 5321 section 4.3.2 lists after DATA; 5.7.1
(delivery not authorized, RFC 3463) says the sender may not send this way.
Retrying cannot help until the header or the configuration changes.
"""


def printable(text: str, limit: int = 200) -> str:
    """``text`` with unprintable characters replaced by ``?``, cut at ``limit``.

    For values a client chose that we write into replies, logs and headers:
    control characters and surrogate escapes (bytes that were not UTF-8) never
    pass; printable Unicode does (an SMTPUTF8 address stays readable).
    """
    cleaned = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return cleaned + ("..." if len(text) > limit else "")


def split_path(text: str) -> tuple[str, str]:
    """Split ``<path> params`` (after ``FROM:`` / ``TO:``) into the path and the rest.

    RFC 5321 section 4.1.2: ``Path = "<" [ A-d-l ":" ] Mailbox ">"``, where the
    local part may be a ``Quoted-string`` holding ``>`` or spaces, so the closing
    bracket is searched outside quotes. Lenient (as aiosmtpd was, so no client
    that worked is refused): a path without brackets ends at the first space; an
    unclosed bracket takes the whole text.
    """
    text = text.lstrip()
    if not text.startswith("<"):
        path, _, rest = text.partition(" ")
        return path, rest.strip()
    if '"' not in text:  # the common case: no quoted local part, the first ">" closes it
        end = text.find(">")
        return (text, "") if end == -1 else (text[: end + 1], text[end + 1 :].strip())
    quoted = escaped = False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ">" and not quoted:
            return text[: i + 1], text[i + 1 :].strip()
    return text, ""


# RFC 3461 section 4: xtext = *( xchar / hexchar ); xchar = "!".."~" except "+"
# and "="; hexchar = "+" two upper-case hex digits. Strict: ENVID is echoed back
# in DSNs, so a malformed one is refused rather than guessed at.
_XTEXT: Final = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})*")
_HEXCHAR: Final = re.compile(r"\+([0-9A-F]{2})")
_ENVID_MAX: Final = 100  # RFC 3461 section 4.4: at most 100 characters


def decode_xtext(text: str) -> str | None:
    """Decode RFC 3461 ``xtext``; ``None`` when ``text`` is not valid xtext."""
    if not _XTEXT.fullmatch(text):
        return None
    return _HEXCHAR.sub(lambda m: chr(int(m[1], 16)), text)


@dataclass(frozen=True, slots=True)
class MailParams:
    """A MAIL or RCPT command's parameters: the DSN ones taken out, the rest left for the core.

    ``error`` is the reply for a malformed DSN parameter.
    """

    kept: tuple[str, ...]
    env_id: str | None = None
    size: int | None = None
    error: str | None = None


# RFC 5321 section 4.1.2: esmtp-param = esmtp-keyword ["=" esmtp-value].
# RFC 3461 adds RET and ENVID to MAIL (section 4.3, 4.4), NOTIFY and ORCPT to
# RCPT (section 4.1, 4.2). The core refuses parameters it does not know (555), so
# the DSN ones are taken out here; NOTIFY, ORCPT and RET are accepted and ignored
# (lenient: the MTA's own DSN policy applies), ENVID is kept for the spool.
_DSN_PARAMS: Final = frozenset({"ENVID", "RET", "NOTIFY", "ORCPT"})


def parse_params(text: str) -> MailParams:
    """Take the DSN parameters out of ``text``; read ``SIZE`` (it stays in ``kept``)."""
    kept: list[str] = []
    env_id: str | None = None
    size: int | None = None
    for param in text.split():
        keyword, _, value = param.partition("=")
        name = keyword.upper()
        if name == "SIZE" and value.isascii() and value.isdigit():
            size = int(value)
        if name not in _DSN_PARAMS:
            kept.append(param)
        elif name == "ENVID":
            env_id = decode_xtext(value) if len(value) <= _ENVID_MAX else None
            if not env_id:
                return MailParams((), error="501 5.5.4 Invalid ENVID parameter")
        elif name == "RET" and value.upper() not in ("FULL", "HDRS"):
            return MailParams((), error="501 5.5.4 Invalid RET parameter (FULL or HDRS)")
    return MailParams(tuple(kept), env_id, size)


# C0 controls but TAB, DEL and C1 controls, and lone surrogates (bytes that were not UTF-8).
_BAD_CHAR: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def command_refusal(arg: str) -> str | None:
    """The 501 for a command argument with control characters or bytes that are not UTF-8.

    The core decodes a command line as UTF-8 with surrogate escapes, so bytes
    that are not UTF-8 arrive as lone surrogates; nothing of RFC 5321's grammar
    (nor RFC 6531's UTF-8 extension) allows them or a control character in a
    command, and storing either would only defer the damage (a sender with a NUL
    can never be bounced to). Refused at the command, before any parsing.
    """
    m = _BAD_CHAR.search(arg)  # the first offending character decides the reply
    if m is None:
        return None
    if 0xD800 <= ord(m.group()) <= 0xDFFF:
        return "501 5.5.2 Syntax error: the command is not valid UTF-8"
    return "501 5.5.2 Syntax error: control characters are not allowed"


def address_refusal(address: str, *, smtputf8: bool, sender: bool = False) -> str | None:
    """Why ``address`` cannot be taken (the reply), or ``None`` when it can.

    RFC 6531 section 3.5: a non-ASCII address needs the SMTPUTF8 parameter on
    MAIL (553 5.6.7 otherwise). Anything else :func:`mta.address.check_mailbox`
    refuses is a syntax error in the argument: ``501 5.1.7`` for the sender,
    ``501 5.1.3`` for a recipient (RFC 3463: bad sender's / destination mailbox
    address syntax), with the validator's reason.
    """
    if not address.isascii() and not smtputf8 and mailbox_problem(address) is None:
        return "553 5.6.7 Non-ASCII address requires SMTPUTF8"
    problem = mailbox_problem(address, utf8=smtputf8)
    if problem is None:
        return None
    if sender:
        return f"501 5.1.7 Bad sender address syntax: {printable(problem, 120)}"
    return f"501 5.1.3 Bad recipient address syntax: {printable(problem, 120)}"


def with_protocol(*, esmtp: bool, tls: bool, auth: bool, utf8: bool) -> str:
    """The ``with`` clause: SMTP, ESMTP[S][A] (RFC 3848) or UTF8SMTP[S][A] (RFC 6531)."""
    if not esmtp:
        return "SMTP"
    return ("UTF8SMTP" if utf8 else "ESMTP") + ("S" if tls else "") + ("A" if auth else "")


def _address_literal(ip: str) -> str:
    try:
        version = ipaddress.ip_address(ip).version
    except ValueError:
        return "[unknown]"
    return f"[IPv6:{ip}]" if version == 6 else f"[{ip}]"


def received_header(
    *,
    helo: str | None,
    ip: str,
    hostname: str,
    protocol: str,
    msg_id: str,
    recipients: Sequence[str],
    when: datetime,
) -> str:
    """The value of our ``Received:`` field, folded (CRLF TAB) into three lines.

    RFC 5321 section 4.4::

        Stamp = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
        From-domain = "FROM" FWS Extended-Domain   ; helo "(" address-literal ")"
        Opt-info = [Via] [With] [ID] [For]

    ``for`` names the recipient only when there is exactly one (section 7.2:
    listing several would disclose Bcc recipients to each other).
    """
    name = re.sub(r"[^A-Za-z0-9.:\[\]_-]", "?", helo or "")[:255] or "unknown"
    line = f"from {name} ({_address_literal(ip)})\r\n\tby {hostname} with {protocol} id {msg_id}"
    if len(recipients) == 1:
        line += f"\r\n\tfor <{printable(recipients[0], 254)}>"
    return f"{line}; {format_datetime(when)}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready to submit: control headers taken out, and what they decided."""

    raw: bytes
    vmta: str | None
    job_id: str | None
    env_id: str | None


def _first(found: dict[str, str], name: str, honour: bool) -> str | None:
    value = found.get(name, "").strip() if honour else ""
    return value or None


def prepare_message(
    raw: bytes, *, config: Config, source: Source | None, listener: Listener, env_id: str | None
) -> Prepared | Decision:
    """Take the control headers out of ``raw`` and decide vmta, job and envelope id.

    ``X-Virtual-MTA``, ``X-Job`` and ``X-EnvID`` are always removed; they are
    honoured only when the source in force has ``process-x-virtual-mta``
    (X-Virtual-MTA) or ``process-x-job`` (X-Job, and X-EnvID when MAIL carried
    no ENVID). The vmta is the honoured header, else the source's
    ``default-virtual-mta``, else the listener's, else ``None``. A honoured
    header naming neither a ``<virtual-mta>`` nor a ``<virtual-mta-pool>`` is
    refused (a :class:`Decision`) rather than silently rerouted.
    """
    stripped, found = take_headers(raw, CONTROL_HEADERS)
    x_vmta, x_job, x_envid = CONTROL_HEADERS
    asked = _first(found, x_vmta, source is not None and source.process_x_virtual_mta)
    by_job = source is not None and source.process_x_job
    match = source.match if source is not None else ""
    if asked is not None and asked not in config.virtual_mtas and asked not in config.pools:
        reason = reject_reason(
            "unknown X-Virtual-MTA", f"{printable(asked, 80)!r} (<source {match}>)"
        )
        return Decision(False, UNKNOWN_VMTA_REPLY, reason, match)
    vmta = asked or (source.default_virtual_mta if source else None) or listener.default_virtual_mta
    return Prepared(
        stripped,
        vmta,
        _first(found, x_job, by_job),
        env_id or _first(found, x_envid, by_job),
    )


def ehlo_lines(responses: Sequence[str], *, offer_auth: bool) -> list[str]:
    """The EHLO reply ``responses`` with PIPELINING added and AUTH kept only when offered.

    Every line but the last is ``250-``; the last is ``250 `` (RFC 5321 section 4.2.1).
    """
    keywords = [r[4:] for r in responses]
    greeting, rest = keywords[0], keywords[1:]
    rest = [k for k in rest if offer_auth or not k.startswith("AUTH")]
    rest = [k for k in rest if k.strip() != "AUTH"]  # no mechanism left to offer
    lines = [greeting, "PIPELINING", *rest]
    return [f"250-{k}" for k in lines[:-1]] + [f"250 {lines[-1]}"]

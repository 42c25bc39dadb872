"""The inbound SMTP grammar: command lines, paths and parameters, each beside its ABNF.

Pure functions over ``str``/``bytes``; the core (:mod:`mta.smtp_server.protocol`)
calls them, nothing here knows a session. Where we are more lenient than the
RFC text, the comment says so and why (we accept what aiosmtpd accepted, so
no client that worked before is refused now).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "Path",
    "parse_path",
    "split_command",
    "strip_keyword",
    "valid_esmtp_params",
]

# RFC 5321 section 4.1.1:
#   command = verb [ SP argument ] CRLF
# Lenient: a bare LF also ends a line, the verb is everything before the first
# space (so "MAIL\tFROM:" is an unknown verb, as in aiosmtpd), the argument is
# stripped of surrounding white space, and an empty argument counts as none.


def split_command(line: bytes) -> tuple[bytes, bytes]:
    """Split a command line (line ending removed) into its verb and stripped argument."""
    verb, _, arg = line.partition(b" ")
    return verb, arg.strip()


def strip_keyword(keyword: str, arg: str) -> str | None:
    """The rest of ``arg`` after ``keyword`` (``FROM:``/``TO:``, case-insensitive), stripped.

    RFC 5321 section 4.1.1.2: ``"MAIL FROM:" Reverse-path``; section 4.1.1.3:
    ``"RCPT TO:" Forward-path``. Lenient: spaces may follow the colon (many
    clients send ``MAIL FROM: <a@b>``).
    """
    if arg[: len(keyword)].upper() == keyword:
        return arg[len(keyword) :].strip()
    return None


# RFC 5321 section 4.1.2, with RFC 6531 section 3.3 (SMTPUTF8) extending atext
# and qtextSMTP by UTF8-non-ascii:
#   Reverse-path   = Path / "<>"
#   Forward-path   = Path
#   Path           = "<" [ A-d-l ":" ] Mailbox ">"
#   A-d-l          = At-domain *( "," At-domain )     ; a source route, ignored
#   At-domain      = "@" Domain
#   Mailbox        = Local-part "@" ( Domain / address-literal )
#   Local-part     = Dot-string / Quoted-string
#   Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
#   QcontentSMTP   = qtextSMTP / quoted-pairSMTP
#   quoted-pairSMTP = %d92 %d32-126
#   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
#                     General-address-literal ) "]"
# Deliberately lenient: the local part and domain are taken as written (any
# run without space, "<", ">" or "@", or a quoted string) and judged afterwards
# by mta.address.mailbox_problem, which answers with a precise 501 reason
# instead of a bare "malformed"; a mailbox without angle brackets is accepted
# (old clients send one); the source route is dropped, as section 4.1.1.3 says
# a server SHOULD do.
_LOCAL: Final = r'(?:"(?:[^"\\\r\n]|\\[ -~])*"|[^\s<>@"]+)'
_DOMAIN: Final = r"(?:\[[^\]\s<>]*\]|[^\s<>@\[\]]+)"
_MAILBOX: Final = rf"{_LOCAL}@{_DOMAIN}"
_ADL: Final = rf"@{_DOMAIN}(?:,@{_DOMAIN})*:"
_ANGLED: Final = re.compile(rf"<(?:{_ADL})?(?P<mailbox>{_MAILBOX})>(?P<rest>.*)\Z", re.DOTALL)
_NULL: Final = re.compile(r"<>(?P<rest>.*)\Z", re.DOTALL)
_BARE: Final = re.compile(rf"(?P<mailbox>{_MAILBOX})(?P<rest>(?:\s.*)?)\Z", re.DOTALL)

Path = tuple[str | None, str]
"""(mailbox, what follows it): mailbox ``None`` when malformed, ``""`` when absent, ``"<>"``
for the null reverse-path."""


def parse_path(text: str) -> Path:
    """The mailbox in ``text`` (after ``FROM:``/``TO:``) and the parameters after it."""
    text = text.strip()
    if not text:
        return "", ""
    for pattern in (_ANGLED, _BARE):
        m = pattern.match(text)
        if m is not None:
            return m.group("mailbox"), m.group("rest").strip()
    m = _NULL.match(text)
    if m is not None:
        return "<>", m.group("rest").strip()
    return None, ""


# RFC 5321 section 4.1.2:
#   Mail-parameters  = esmtp-param *(SP esmtp-param)
#   esmtp-param      = esmtp-keyword ["=" esmtp-value]
#   esmtp-keyword    = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
#   esmtp-value      = 1*(%d33-60 / %d62-126)      ; RFC 6531 adds UTF8-non-ascii
# Lenient on the value (any non-space run, as aiosmtpd): RFC 3461 ENVID and
# ORCPT are checked as xtext where they are read.
_KEYWORD: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")


def valid_esmtp_params(params: list[str]) -> dict[str, str | bool] | None:
    """``KEYWORD[=value]`` words as a dict (a bare keyword maps to True); None if malformed."""
    result: dict[str, str | bool] = {}
    for param in params:
        keyword, eq, value = param.partition("=")
        if not _KEYWORD.match(keyword) or (eq and not value):
            return None
        result[keyword] = value if eq else True
    return result

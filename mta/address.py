"""The one mailbox validator: RFC 5321 addresses with RFC 6531 UTF-8, domains through IDNA.

::

    check_mailbox("jürgen@bücher.example")     # Mailbox(local='jürgen', domain='bücher.example',
                                               #         ascii_domain='xn--bcher-kva.example')
    mailbox_problem("user@exa_mple.com")       # "underscore in domain label 'exa_mple' ..."

The listener (MAIL, RCPT), the pickup folder (``x-sender``, ``x-receiver``)
and the suppression store (and through it the CLI and the HTTP API) all refuse
what this refuses, so an address the MTA would never take cannot be stored,
relayed or suppressed under a key nothing will ever look up. It is strict where
the RFCs are: a dot-string has no leading, trailing or doubled dot (quote such
a local part), a host name is letters, digits and inner hyphens, with no
underscore. Pure: no I/O, no DNS.

Errors are :class:`mta.errors.AddressError` (a ValueError) carrying one reason
a person can act on.
"""

from __future__ import annotations

import encodings.idna
import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from mta.errors import AddressError

__all__ = [
    "MAX_DOMAIN",
    "MAX_LOCAL",
    "MAX_MAILBOX",
    "Mailbox",
    "check_mailbox",
    "mailbox_problem",
]

MAX_LOCAL: Final = 64
"""Octets in a local part (RFC 5321 section 4.5.3.1.1)."""
MAX_DOMAIN: Final = 255
"""Octets in a domain (RFC 5321 section 4.5.3.1.2)."""
MAX_MAILBOX: Final = 254
"""Octets in a mailbox: a path is at most 256 octets with its brackets (section 4.5.3.1.3)."""
_MAX_LABEL: Final = 63  # RFC 1035 section 2.3.4

# RFC 5321 section 4.1.2, with RFC 6531 section 3.3 adding UTF8-non-ascii to atext and qtextSMTP:
#   Local-part      = Dot-string / Quoted-string
#   Dot-string      = Atom *("."  Atom)          Atom = 1*atext
#   atext           = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
#                     "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~" / UTF8-non-ascii
#   Quoted-string   = DQUOTE *QcontentSMTP DQUOTE
#   QcontentSMTP    = qtextSMTP / quoted-pairSMTP
#   qtextSMTP       = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
#   quoted-pairSMTP = %d92 %d32-126
# Non-ASCII characters are screened first (_screen): no controls, no unprintables.
_U8: Final = "\u0080-\U0010ffff"
_ATEXT: Final = rf"A-Za-z0-9!#$%&'*+/=?^_`{{|}}~\-{_U8}"
_DOT_STRING: Final = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_QUOTED_STRING: Final = re.compile(rf'"(?:[ !#-\[\]-~{_U8}]|\\[ -~])*"')
#   Domain     = sub-domain *("." sub-domain)
#   sub-domain = Let-dig [Ldh-str]      ; RFC 6531: / U-label (checked through IDNA)
#   Ldh-str    = *( ALPHA / DIGIT / "-" ) Let-dig
_LDH_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
# The label separators the IDNA codec accepts (RFC 3490 section 3.1), as the
# suppression keys are made with it: a domain is split the same way here.
_DOTS: Final = re.compile("[.\u3002\uff0e\uff61]")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A valid mailbox: the local part as written, the domain as written and in ASCII.

    ``ascii_domain`` is the IDNA (punycode) form of a U-label domain, the address
    literal for one, else ``domain`` itself.
    """

    local: str
    domain: str
    ascii_domain: str


def _screen(address: str) -> str | None:
    """Why a character of ``address`` can never be in a mailbox, or None."""
    for char in address:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return "not valid UTF-8"
        if code == 0xFFFD:
            return "contains U+FFFD, the mark of text that was not valid UTF-8"
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return f"control character U+{code:04X}"
        if code > 0x7F and not char.isprintable():
            return f"unprintable character U+{code:04X}"
    return None


def _local_problem(local: str) -> str | None:
    if not local:
        return "empty local part"
    if len(local.encode()) > MAX_LOCAL:
        return f"local part longer than {MAX_LOCAL} octets"
    if local.startswith('"'):
        if _QUOTED_STRING.fullmatch(local) is None:
            return "bad quoted local part"
        return None
    if _DOT_STRING.fullmatch(local) is not None:
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "local part starts or ends with a dot or has two in a row (quote it)"
    bad = next(c for c in local if c != "." and re.fullmatch(f"[{_ATEXT}]", c) is None)
    return f"{bad!r} is not allowed in an unquoted local part"


def _literal(inner: str) -> str | None:
    """The canonical address literal, or None (RFC 5321 section 4.1.3)."""
    # address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
    #                         General-address-literal ) "]"
    # IPv6-address-literal = "IPv6:" IPv6-addr. No General-address-literal tag is
    # registered, so only the first two can name a host.
    try:
        if inner[:5].lower() == "ipv6:":
            return f"[IPv6:{ipaddress.IPv6Address(inner[5:]).compressed}]"
        return f"[{ipaddress.IPv4Address(inner)}]"
    except ValueError:
        return None


def _label_problem(label: str) -> tuple[str | None, str]:
    """(why ``label`` is not a host-name label or None, its ASCII form)."""
    if not label:
        return "empty domain label (two dots in a row)", label
    ascii_label = label
    if not label.isascii():
        try:
            ascii_label = encodings.idna.ToASCII(label).decode("ascii")
        except UnicodeError as exc:
            return f"domain label {label!r} is not a valid internationalised label ({exc})", label
    elif label[:4].lower() == "xn--":
        try:
            encodings.idna.ToUnicode(label)
        except UnicodeError:
            return f"domain label {label!r} is not valid punycode", label
    if len(ascii_label) > _MAX_LABEL:
        return f"domain label longer than {_MAX_LABEL} characters", ascii_label
    if _LDH_LABEL.fullmatch(ascii_label) is not None:
        return None, ascii_label
    if "_" in ascii_label:
        return f"underscore in domain label {label!r} (not allowed in a host name)", ascii_label
    if ascii_label.startswith("-") or ascii_label.endswith("-"):
        return f"domain label {label!r} starts or ends with a hyphen", ascii_label
    return f"domain label {label!r} has characters other than letters, digits and -", ascii_label


def _domain_problem(domain: str) -> tuple[str | None, str]:
    """(why ``domain`` is not a domain or address literal or None, its ASCII form)."""
    if not domain:
        return "empty domain", domain
    if domain.startswith("["):
        literal = _literal(domain[1:-1]) if domain.endswith("]") else None
        if literal is None:
            return f"bad address literal {domain!r} (use [IPv4] or [IPv6:...])", domain
        return None, literal
    if domain.endswith("."):
        return "domain ends with a dot", domain
    labels: list[str] = []
    for label in _DOTS.split(domain):
        problem, ascii_label = _label_problem(label)
        if problem is not None:
            return problem, domain
        labels.append(ascii_label)
    ascii_domain = ".".join(labels)
    if len(ascii_domain) > MAX_DOMAIN:
        return f"domain longer than {MAX_DOMAIN} octets", ascii_domain
    return None, ascii_domain


def mailbox_problem(address: str, *, utf8: bool = True) -> str | None:
    """Why ``address`` (``local@domain``, no brackets) is not a mailbox, or None if it is.

    ``utf8=False`` refuses non-ASCII (a session without SMTPUTF8, RFC 6531 section 3.5).
    """
    try:
        check_mailbox(address, utf8=utf8)
    except AddressError as exc:
        return exc.reason
    return None


def check_mailbox(address: str, *, utf8: bool = True) -> Mailbox:
    """``address`` as a :class:`Mailbox`; :class:`~mta.errors.AddressError` if it is not one.

    RFC 5321 ``Mailbox`` (no surrounding ``<>``, no spaces around it), with RFC
    6531 UTF-8 local parts and U-label domains when ``utf8`` is true.
    """
    problem = _screen(address)
    if problem is None and not utf8 and not address.isascii():
        problem = "non-ASCII address without SMTPUTF8"
    if problem is None and len(address.encode()) > MAX_MAILBOX:
        problem = f"longer than {MAX_MAILBOX} octets"
    local, at, domain = address.rpartition("@")
    if problem is None and not at:
        problem = "no @"
    if problem is None:
        problem = _local_problem(local)
    ascii_domain = domain
    if problem is None:
        problem, ascii_domain = _domain_problem(domain)
    if problem is not None:
        raise AddressError(address, problem)
    return Mailbox(local, domain, ascii_domain)

"""Address normalisation: one spelling per mailbox, so a lookup finds what was stored.

The SQL store keys suppressions with it and the policies group addresses with it;
it is pure and lives here, beside the policies' other shared values
(:mod:`acctpipe.policy.types`), so the import arrows go one way: the store
imports the policy package, never the reverse.

``normalise_address("  <John.Doe+News@Bücher.Example.> ")`` gives
``"john.doe+news@xn--bcher-kva.example"``:

* surrounding space and one pair of ``<>`` are dropped;
* the domain is lower-cased, IDNA-encoded (punycode, the stdlib ``idna`` codec:
  IDNA 2003 with nameprep) and loses a trailing dot; an address literal
  (``[192.0.2.1]``, ``[IPv6:2001:db8::1]``) is written in its canonical form;
* plus-addressing is kept: ``a+tag@x`` and ``a@x`` are different entries;
* the local part is case-folded by default. RFC 5321 lets a server treat it as
  case-sensitive, but mailbox providers do not, and a list that keeps
  ``John@`` and ``john@`` apart lets one of them through. Pass
  ``casefold_local=False`` to keep it as written (Unicode NFC either way);
* a quoted local part that needs no quotes loses them (``"john"@x`` is ``john@x``).

Anything that is not an address raises :class:`mta.errors.AddressError` (a
ValueError) with the reason —
never another exception, whatever the input (a property test checks it). What
is an address is :func:`mta.address.check_mailbox`'s answer, the MTA's own: a
suppression is only added for an address the listener and the pickup folder
would take (no ``john..doe@``, no ``user@exa_mple.com``, no U+FFFD left by
bytes that were not UTF-8). The key rules above are older and more lenient, and
:func:`address_key` keeps them without the check, so rows stored before the
check (``acctpipe suppress verify`` lists them) can still be looked up and
removed under the very key they were stored with.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from typing import Final

from mta.address import check_mailbox
from mta.errors import AddressError

__all__ = [
    "address_key",
    "normalise",
    "normalise_address",
    "normalise_domain",
    "normalise_scope",
]

MAX_LOCAL: Final = 64  # octets, RFC 5321 section 4.5.3.1.1
MAX_DOMAIN: Final = 253  # octets, RFC 1035 (255 on the wire, less the length bytes)
MAX_LABEL: Final = 63

# RFC 5322 section 3.2.3 / RFC 5321 section 4.1.2, widened by RFC 6531 section 3.3:
#   Dot-string = Atom *("." Atom)      Atom = 1*atext
#   atext      = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
#                "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~" / UTF8-non-ascii
# Deliberately lenient about dots: leading, trailing and doubled dots ("john..doe")
# are accepted, because old mailbox providers issued such addresses and
# suppression lists exported elsewhere contain them.
_ATEXT: Final = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff"
_DOT_STRING: Final = re.compile(rf"[.{_ATEXT}]*[{_ATEXT}][.{_ATEXT}]*")
_STRICT_DOT_STRING: Final = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
#   Quoted-string   = DQUOTE *QcontentSMTP DQUOTE
#   QcontentSMTP    = qtextSMTP / quoted-pairSMTP
#   qtextSMTP       = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
#   quoted-pairSMTP = %d92 %d32-126
_QUOTED: Final = re.compile(r'"((?:[ !#-\[\]-~\u0080-\U0010ffff]|\\[ -~])*)"')
_QUOTED_PAIR: Final = re.compile(r"\\([ -~])")
# RFC 1035 section 2.3.1 letter-digit-hyphen labels, leniently with "_" (seen in the
# wild) and without the rule against leading or trailing hyphens.
_LABEL: Final = re.compile(r"[a-z0-9_-]{1,63}")
# The everyday address, already lower-case ASCII: a dot-string that starts with an
# atext character, and LDH labels. It takes the fast path (one regex: the MTA
# normalises every RCPT); anything else goes the long way, with the same result.
_FAST: Final = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-][a-z0-9!#$%&'*+/=?^_`{|}~.-]{0,63}"
    r"@[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*"
)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def normalise_domain(domain: str) -> str:
    """A domain (or ``[address literal]``) in the stored form; ValueError if invalid."""
    text = domain.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise AddressError(domain, "empty domain", kind="domain")
    if text.startswith("[") and text.endswith("]"):
        return _literal(text[1:-1])
    if not text.isascii():
        if not text.isprintable():
            raise AddressError(domain, "control or unprintable characters in domain", kind="domain")
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise AddressError(
                domain, f"not a valid internationalised domain ({exc})", kind="domain"
            ) from exc
    text = text.lower()
    if len(text) > MAX_DOMAIN:
        raise AddressError(domain, f"domain longer than {MAX_DOMAIN} characters", kind="domain")
    for label in text.split("."):
        if not _LABEL.fullmatch(label):
            raise AddressError(domain, f"bad domain label {_shown(label)}", kind="domain")
    return text


def _literal(inner: str) -> str:
    # RFC 5321 section 4.1.3: address-literal = "[" ( IPv4-address-literal /
    # IPv6-address-literal / General-address-literal ) "]"; only the first two are mail.
    try:
        if inner[:5].lower() == "ipv6:":
            return f"[IPv6:{ipaddress.IPv6Address(inner[5:]).compressed}]"
        return f"[{ipaddress.IPv4Address(inner)}]"
    except ValueError as exc:
        raise AddressError(inner, f"bad address literal {_shown(inner)}", kind="domain") from exc


def _local(local: str, casefold: bool) -> str:
    if not local:
        raise AddressError(local, "empty local part")
    if not local.isascii():
        if not local.isprintable():
            raise AddressError(local, "control or unprintable characters in local part")
        local = unicodedata.normalize("NFC", local)
        if casefold:
            local = unicodedata.normalize("NFC", local.casefold())
    elif casefold:
        local = local.lower()
    quoted = _QUOTED.fullmatch(local)
    if quoted is not None:
        bare = _QUOTED_PAIR.sub(r"\1", quoted.group(1))
        if _STRICT_DOT_STRING.fullmatch(bare):
            local = bare  # the quotes were not needed: one spelling
    elif not _DOT_STRING.fullmatch(local):
        raise AddressError(local, f"bad local part {_shown(local)}")
    if len(local.encode("utf-8", "surrogatepass")) > MAX_LOCAL:
        raise AddressError(local, f"local part longer than {MAX_LOCAL} octets")
    return local


def normalise_address(address: str, *, casefold_local: bool = True) -> str:
    """The stored form of ``address`` (see the module docstring); ValueError if invalid.

    Invalid means :func:`mta.address.check_mailbox` refuses it (a trailing dot
    on the domain aside), or the key rules do.
    """
    text = _unbracketed(address)
    # The key's own leniency (a trailing dot) is not the validator's business.
    check_mailbox(text[:-1] if text.endswith(".") else text)
    return _key(address, text, casefold_local)


def address_key(address: str, *, casefold_local: bool = True) -> str:
    """The key ``address`` is (or was) stored under, without :func:`mta.address.check_mailbox`.

    For reading and removing: a row stored before the check still has a key.
    ValueError only for text no key can be made of.
    """
    return _key(address, _unbracketed(address), casefold_local)


def normalise(
    address: str, _fast: Callable[[str], object] = _FAST.fullmatch, _longest: int = MAX_DOMAIN + 1
) -> str:
    """:func:`address_key` with the defaults: what the MTA's suppression set is given.

    Lenient, so a stored row the validator would now refuse still suppresses. It
    runs on every RCPT: the everyday address (ASCII, no brackets or space) is
    answered here in one regex, without the calls :func:`address_key` makes; the
    result is the same (a test compares them).
    """
    if address.isascii():
        low = address.lower()
        if _fast(low) and len(low) - low.index("@") <= _longest:
            return low
    return address_key(address)


def _unbracketed(address: str) -> str:
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text


def _key(address: str, text: str, casefold_local: bool) -> str:
    if casefold_local and text.isascii():
        low = text.lower()
        if _FAST.fullmatch(low) and len(low) - low.index("@") <= MAX_DOMAIN + 1:
            return low
    return _slow(address, text, casefold_local)


def _slow(address: str, text: str, casefold_local: bool) -> str:
    local, at, domain = text.rpartition("@")
    try:
        if not at:
            raise AddressError(address, "no @")
        return f"{_local(local, casefold_local)}@{normalise_domain(domain)}"
    except AddressError as exc:
        raise AddressError(address, exc.reason) from None


def normalise_scope(scope: str) -> str:
    """``global``, ``domain:<sender domain>`` (normalised) or ``list:<name>``; else ValueError."""
    text = scope.strip()
    kind, colon, rest = text.partition(":")
    kind = kind.lower()
    if not colon and kind == "global":
        return "global"
    try:
        if colon and kind == "domain":
            return f"domain:{normalise_domain(rest)}"
        name = rest.strip()
        if colon and kind == "list" and name and name.isprintable():
            return f"list:{name}"
    except AddressError as exc:
        raise AddressError(scope, exc.reason, kind="scope") from None
    raise AddressError(scope, "use global, domain:<sender domain> or list:<name>", kind="scope")

"""The returned original message: its headers carry our own identifiers.

Our MTA stamps each message with ``X-Acctpipe-Id`` (opaque spool id),
``X-Acctpipe-Rcpt`` (the recipient), ``X-Job`` and a VERP return path
``<bounce+user=example.com@bounces.sender.example>``. When a receiver redacts the
recipient in a complaint or omits it in a bounce, these get it back.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final
from weakref import WeakKeyDictionary

from classifiers._mime import decode_header_value, iter_parts, parse_bytes, part_body

__all__ = [
    "RECIPIENT_HEADERS",
    "address_of",
    "header",
    "is_redacted",
    "original_headers",
    "returned_recipient",
    "verp_recipient",
]

# Headers that name the recipient, in the order we trust them.
RECIPIENT_HEADERS = ("x-acctpipe-rcpt", "x-recipient", "x-rcpt-to", "x-hmxmroriginalrecipient")

# addr-spec, deliberately lenient (RFC 5321 Mailbox; no quoted local parts with spaces).
_ADDRESS = re.compile(r"[^\s<>@\"(),;:]+@[^\s<>@\"(),;:]+\.[^\s<>@\"(),;:]+")
_ANGLE = re.compile(r"<([^<>\s]+)>\s*$")
# VERP: <prefix>+<local>=<domain>@<bounce domain>. A domain has no "=", so the local
# part (which may hold "+" or "=") runs to the last "=".
_VERP = re.compile(r"^[^+@\s]+\+(?P<local>[^@\s]+)=(?P<domain>[^=@\s]+\.[^=@\s]+)@[^@\s]+$")
_REDACTED = re.compile(r"redacted|^[x*#_.-]{3,}@|^\*+$|^<?>?$", re.IGNORECASE)


def address_of(text: str) -> str:
    """The address in ``text`` (domain lower-cased), or ``""``.

    An ``<addr-spec>`` in angle brackets wins (RFC 5322 name-addr: a display name
    may itself contain an address-like string); otherwise the first address.
    """
    angle = _ANGLE.search(text or "")
    m = _ADDRESS.fullmatch(angle.group(1)) if angle else None
    m = m or _ADDRESS.search(text or "")
    if m is None:
        return ""
    local, _, domain = m.group(0).strip(".").rpartition("@")
    return f"{local}@{domain.lower()}"


def is_redacted(text: str) -> bool:
    """Whether an address field was redacted by the reporting ISP."""
    value = (text or "").strip().strip("<>").strip()
    return not value or bool(_REDACTED.search(value)) or not address_of(value)


def verp_recipient(return_path: str) -> str:
    """Decode the recipient from a VERP return path, or ``""``."""
    addr = address_of(return_path)
    m = _VERP.match(addr)
    if m is None:
        return ""
    return f"{m.group('local')}@{m.group('domain').lower()}"


# original_headers' answers, for as long as the parsed message lives (weak keys: never
# keeps a message alive; a message is not changed while it is classified). Asked of the
# same message by the JMRP check, the identifiers and every dialect's findings: a
# text/rfc822-headers part would otherwise be parsed again each time.
_ORIGINAL: Final[WeakKeyDictionary[Message, tuple[Message | None]]] = WeakKeyDictionary()


def original_headers(msg: Message) -> Message | None:
    """The headers of the returned original (message/rfc822 or text/rfc822-headers part)."""
    known = _ORIGINAL.get(msg)
    if known is None:
        known = _ORIGINAL[msg] = (_find_original(msg),)
    return known[0]


def _find_original(msg: Message) -> Message | None:
    for part in iter_parts(msg):
        try:
            ctype = part.get_content_type()
        except (TypeError, ValueError):
            continue
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            encoded = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
            if encoded in ("base64", "quoted-printable"):
                # RFC 2046 forbids it, yet some feedback loops encode the original:
                # the parser took the encoded text for a header-less message.
                body = part_body(part)
                return parse_bytes(body) if body else None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            body = part_body(part)
            return parse_bytes(body) if body else None
        if ctype in ("text/rfc822-headers", "text/global-headers"):
            return parse_bytes(part_body(part))
    return None


def header(msg: Message | None, name: str) -> str:
    """A decoded header value, ``""`` when absent."""
    if msg is None:
        return ""
    try:
        return decode_header_value(msg.get(name, ""))
    except (TypeError, ValueError):
        return ""


# The envelope headers a bounce arrives with: our VERP address says whose it is.
_ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "To")
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;]+@[^\s<>;]+?)>?\s*;", re.IGNORECASE)


def returned_recipient(msg: Message) -> tuple[str, str]:
    """The one recipient a bounce is about when its text names none, and where from.

    In the order we trust them: our VERP address the bounce was sent to; in the
    returned original, our per-recipient stamp (``X-Acctpipe-Rcpt`` and the like),
    its VERP return path, a ``To`` naming one address (and no ``Cc``), a ``Received``
    ``for <addr>`` naming one. ``("", "")`` when none says it unambiguously.
    """
    for name in _ENVELOPE_HEADERS:
        if verp := verp_recipient(header(msg, name)):
            return verp, "verp"
    original = original_headers(msg)
    if original is None:
        return "", ""
    for name in RECIPIENT_HEADERS:
        value = header(original, name)
        if value and not is_redacted(value):
            return address_of(value), name
    if verp := verp_recipient(header(original, "Return-Path")):
        return verp, "verp"
    to = header(original, "To")
    if to and not is_redacted(to) and to.count("@") == 1 and not header(original, "Cc"):
        return address_of(to), "to"
    received = {
        address_of(m.group(1)).lower(): address_of(m.group(1))
        for value in original.get_all("Received") or ()
        for m in _RECEIVED_FOR.finditer(str(value))
    }
    if len(received) == 1:
        return next(iter(received.values())), "received"
    return "", ""

"""What the dialect plug-ins share: header signals, the notification text, addresses.

Everything here is a pure function of a parsed message or of text, and never
raises: headers are read through :func:`classifiers._mime.decode_header_value`,
bodies through :func:`classifiers._mime.part_body`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message
from typing import Final
from weakref import WeakKeyDictionary

from classifiers._mime import decode_header_value, html_text, iter_parts, part_body, text_of

__all__ = [
    "ADDRESS",
    "has_report_part",
    "header_text",
    "is_system_sender",
    "lines_before",
    "notification_text",
    "squash",
]

# RFC 5321 section 4.1.2, ``Mailbox = Local-part "@" ( Domain / address-literal )``.
# Deliberately lenient, as bounce prose is: any run without spaces, angle brackets,
# quotes or list punctuation on either side of one "@", with a dot in the domain.
# Quoted local parts with spaces and address literals are not recognised.
ADDRESS: Final = r"[^\s<>@\"(),;:\[\]]+@[^\s<>@\"(),;:\[\]]+\.[^\s<>@\"(),;:\[\]]+"

# Parts that make a message a standard report: a dialect never claims those.
_REPORT_TYPES: Final = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/feedback-report",
        "message/disposition-notification",
    }
)
# Who sends bounces: the RFC 5321 postmaster, the traditional MAILER-DAEMON, and
# the display names MTAs put before them.
_SYSTEM_SENDER: Final = re.compile(
    r"mailer-daemon|postmaster|mail delivery (?:system|subsystem)|mdaemon@|"
    r"system administrator",
    re.IGNORECASE,
)
_WHITESPACE: Final = re.compile(r"\s+")
_MAX_DEPTH: Final = 8
# has_report_part's answers, for as long as the parsed message lives (weak keys: the
# cache never keeps a message alive, and a message is not changed while classified).
_HAS_REPORT: Final[WeakKeyDictionary[Message, bool]] = WeakKeyDictionary()
# header_text's answers per message: {field name as asked: decoded value}.
_HEADERS: Final[WeakKeyDictionary[Message, dict[str, str]]] = WeakKeyDictionary()
# notification_text's answers per message: {fall_back: (text asked with, answer)}.
_NOTIFICATION: Final[WeakKeyDictionary[Message, dict[bool, tuple[str, str]]]] = WeakKeyDictionary()


def header_text(msg: Message, name: str) -> str:
    """A decoded header value (RFC 2047 words decoded), ``""`` when absent."""
    # The plug-ins ask the same few fields (From above all) of a message in turn.
    memo = _HEADERS.get(msg)
    if memo is None:
        memo = _HEADERS[msg] = {}
    known = memo.get(name)
    if known is None:
        known = memo[name] = decode_header_value(msg.get(name, ""))
    return known


def is_system_sender(msg: Message) -> bool:
    """Whether ``From`` names a mail system (MAILER-DAEMON, postmaster …) rather than a person."""
    return bool(_SYSTEM_SENDER.search(header_text(msg, "From")))


def has_report_part(msg: Message) -> bool:
    """Whether the message carries an RFC 3464/6533/5965/8098 report part."""
    # Every plug-in asks this first, for the same message: walk its parts once.
    known = _HAS_REPORT.get(msg)
    if known is None:
        known = _HAS_REPORT[msg] = _walk_for_report(msg)
    return known


def _walk_for_report(msg: Message) -> bool:
    for part in iter_parts(msg):
        try:
            ctype = part.get_content_type()
        except (TypeError, ValueError):
            continue
        if ctype in _REPORT_TYPES:
            return True
    return False


def notification_text(msg: Message, text: str, *, fall_back: bool = True) -> str:
    """The bounce's own human text: its text/plain parts outside any returned message
    (its text/html parts, as text, when it has no text/plain one).

    ``text`` (every text/plain part, the returned original's included) is used as is
    for a single-part message, and — unless ``fall_back`` is false — when no text/plain
    part is found outside ``message/*`` parts. A reader that recognises no vendor's
    layout passes ``fall_back=False``: for it, the returned original is never the text.
    """
    # Most plug-ins ask this of the same message and text in turn: decode it once.
    memo = _NOTIFICATION.setdefault(msg, {})
    known = memo.get(fall_back)
    if known is not None and known[0] == text:
        return known[1]
    if not msg.is_multipart():
        result = _unix(text)
    else:
        found = "\n".join(_own_text(msg, 0, "text/plain"))
        if not found.strip():  # an HTML-only notification: its text, line by line
            found = html_text("\n".join(_own_text(msg, 0, "text/html")))
        result = _unix(found) if found.strip() or not fall_back else _unix(text)
    memo[fall_back] = (text, result)
    return result


def _own_text(part: Message, depth: int, wanted: str) -> Iterable[str]:
    if depth > _MAX_DEPTH:
        return
    try:
        ctype = part.get_content_type()
        payload = part.get_payload()
    except (TypeError, ValueError, AttributeError):
        return
    if ctype.startswith("message/"):
        return  # the returned original, not the notification
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _own_text(sub, depth + 1, wanted)
        return
    if ctype == wanted:
        try:
            charset = part.get_content_charset() or "utf-8"
        except (TypeError, ValueError):
            charset = "utf-8"
        yield text_of(part_body(part), charset)


def _unix(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def lines_before(text: str, stop: re.Pattern[str]) -> list[str]:
    """The lines of ``text`` up to (not including) the first line ``stop`` matches."""
    out: list[str] = []
    for line in _unix(text).split("\n"):
        if stop.search(line):
            break
        out.append(line.rstrip())
    return out


def squash(parts: Iterable[str]) -> str:
    """Join text fragments with single spaces, collapsing every whitespace run."""
    return _WHITESPACE.sub(" ", " ".join(parts)).strip()

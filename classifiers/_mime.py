"""Defensive MIME helpers: returned mail is often broken, and we must never raise.

Parsing uses the stdlib ``email`` package with the lenient ``compat32`` policy;
every helper here catches what that package can throw on hostile input and
degrades to "nothing found" instead.
"""

from __future__ import annotations

import base64
import binascii
import html
import quopri
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from typing import Any, Final

__all__ = [
    "body_text",
    "decode_cte",
    "decode_header_value",
    "field_blocks",
    "html_text",
    "iter_parts",
    "normalise_newlines",
    "parse_bytes",
    "part_body",
    "text_near",
    "text_of",
]

_MAX_PARTS = 200  # a report has a handful; a bomb has thousands
_FOLD = re.compile(r"\r?\n[ \t]+")
_ENTRY: Final = re.compile(r"^\s*<?[^\s<>@:]+@[^\s<>@:]+>?:")
_HEADER_ECHO = re.compile(r"^\s*(?:to|cc|bcc|from|subject|sent|date)\s*:", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\r?\n[ \t]*\r?\n")
_FIELD = re.compile(r"^([!-9;-~]+)[ \t]*:(.*)$")  # RFC 5322 field-name = 1*ftext
# The same on text whose lines end in LF alone. A pattern that starts with a literal
# is searched for that character; one that starts with "\r?" is tried at every offset
# (ten times slower on a status part).
_FIELD_LINE = re.compile(r"^([!-9;-~]+)[ \t]*:(.*)$", re.MULTILINE)
_FOLD_LF = re.compile(r"\n[ \t]+")
_BLANK_LINE_LF = re.compile(r"\n[ \t]*\n")


_ANY_CR = re.compile(rb"\r\n?")


def normalise_newlines(data: bytes) -> bytes:
    """Bare-CR files (old Mac tools, some appliances) become LF; CRLF and LF are kept.

    A file that mixes bare CRs with CRLF or LF lines (a relay that rewrote part of
    it) becomes LF throughout, so every part's fields split into lines alike.
    """
    if b"\r" not in data:
        return data
    if b"\n" not in data:
        return data.replace(b"\r", b"\n")
    if data.count(b"\r") != data.count(b"\r\n"):
        return _ANY_CR.sub(b"\n", data)  # CR CR LF is two line breaks, not one
    return data


def parse_bytes(data: bytes) -> Message:
    """Parse raw message bytes leniently (never raises on malformed input)."""
    return message_from_bytes(normalise_newlines(data), _IndexedMessage, policy=compat32)


class _IndexedMessage(Message):
    """A compat32 ``Message`` whose header look-ups use an index by lower-cased name.

    ``Message.get`` walks every field and lower-cases each name, and classification asks
    a message for dozens of fields. The index is built at the first look-up and dropped
    by every change to the fields (assigning the field list, or the methods that change
    it in place), so the answers are always what ``Message`` itself would give.
    """

    _index: dict[str, list[tuple[str, Any]]] | None = None
    _ctype: tuple[str, str] | None = None  # (default type, content type), with the index
    _fields: list[tuple[str, Any]]

    @property
    def _headers(self) -> list[tuple[str, Any]]:
        return self._fields

    @_headers.setter
    def _headers(self, fields: list[tuple[str, Any]]) -> None:
        self._fields = fields
        self._index = self._ctype = None

    def _by_name(self) -> dict[str, list[tuple[str, Any]]]:
        index: dict[str, list[tuple[str, Any]]] = {}
        for name, value in self._fields:
            known = index.get(lowered := name.lower())
            if known is None:
                index[lowered] = [(name, value)]
            else:
                known.append((name, value))
        self._index = index
        return index

    def get(self, name: str, failobj: Any = None) -> Any:
        """As ``Message.get``: the first field called ``name`` (any case), else ``failobj``."""
        found = (self._index or self._by_name()).get(name.lower())
        if found is None:
            return failobj
        return self.policy.header_fetch_parse(*found[0])

    def get_all(self, name: str, failobj: Any = None) -> Any:
        """As ``Message.get_all``: every field called ``name`` (any case), else ``failobj``."""
        found = (self._index or self._by_name()).get(name.lower())
        if found is None:
            return failobj
        return [self.policy.header_fetch_parse(k, v) for k, v in found]

    def get_content_type(self) -> str:
        """As ``Message.get_content_type`` (remembered with the index: asked many times)."""
        known = self._ctype
        if known is not None and self._index is not None and known[0] == self.get_default_type():
            return known[1]
        ctype = super().get_content_type()
        self._ctype = (self.get_default_type(), ctype)
        return ctype

    def __contains__(self, name: str) -> bool:
        return name.lower() in (self._index or self._by_name())

    def __setitem__(self, name: str, val: Any) -> None:
        super().__setitem__(name, val)
        self._index = self._ctype = None

    def set_raw(self, name: str, value: Any) -> None:
        """As ``Message.set_raw``."""
        super().set_raw(name, value)
        self._index = self._ctype = None

    def replace_header(self, _name: str, _value: Any) -> None:
        """As ``Message.replace_header``."""
        super().replace_header(_name, _value)
        self._index = self._ctype = None


def decode_header_value(value: object) -> str:
    """A header as text: RFC 2047 encoded-words decoded, unknown charsets tolerated."""
    if value is None:
        return ""
    raw = str(value)
    if "=?" not in raw:
        return raw  # no encoded-word: decode_header would hand it back unchanged
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, binascii.Error):
        return raw


def iter_parts(msg: Message) -> Iterator[Message]:
    """Walk the MIME tree depth first, bounded in size."""
    count = 0
    try:
        for part in msg.walk():
            count += 1
            if count > _MAX_PARTS:
                return
            yield part
    except (TypeError, AttributeError):  # a malformed multipart payload
        return


def _charset(part: Message) -> str:
    try:
        charset = part.get_content_charset() or "utf-8"
    except (TypeError, ValueError):
        return "utf-8"
    return charset


def text_of(payload: bytes, charset: str) -> str:
    """Decode bytes in ``charset``; unknown or wrong charsets fall back to UTF-8/latin-1."""
    for cs in (charset, "utf-8"):
        try:
            return payload.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def part_body(part: Message) -> bytes:
    """The decoded body bytes of one part, whatever its type (message/* included)."""
    try:
        if part.is_multipart():
            # message/* subtypes are parsed into sub-messages; serialise them back.
            raw = part.as_bytes()
            _, sep, body = raw.partition(b"\n\n")
            if not sep:
                return b""
            return decode_cte(body, str(part.get("Content-Transfer-Encoding", "")))
        payload = part.get_payload(decode=True)
    except (LookupError, UnicodeError, ValueError, TypeError, AttributeError, binascii.Error):
        return b""
    return payload if isinstance(payload, bytes) else b""


def decode_cte(body: bytes, cte: str) -> bytes:
    """``body`` decoded from its Content-Transfer-Encoding (base64, quoted-printable)."""
    cte = cte.strip().lower()
    try:
        if cte == "base64":
            return base64.b64decode(b"".join(body.split()), validate=False)
        if cte == "quoted-printable":
            return quopri.decodestring(body)
    except (ValueError, binascii.Error):
        return body
    return body


def body_text(msg: Message, *, limit: int = 64 * 1024) -> str:
    """The human-readable text of a message: its text/plain parts (else text/html, stripped)."""
    plain: list[str] = []
    html: list[str] = []
    for part in iter_parts(msg):
        try:
            ctype = part.get_content_type()
        except (TypeError, ValueError):
            continue
        if part.is_multipart() or ctype not in ("text/plain", "text/html"):
            continue
        text = text_of(part_body(part), _charset(part))
        (plain if ctype == "text/plain" else html).append(text)
        if sum(map(len, plain)) > limit:
            break
    if plain:
        return "\n".join(plain)[:limit]
    return html_text("\n".join(html))[:limit]


_HTML_SKIP: Final = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_BREAK: Final = re.compile(r"<(?:br|/p|/div|/tr|/li|/h[1-6]|hr|p|div|tr|li)\b[^>]*>", re.I)
_HTML_TAG: Final = re.compile(r"<[^>]*>")
_BLANKS: Final = re.compile(r"[ \t\xa0]+")


def html_text(markup: str) -> str:
    """The text of an HTML part, one line per line break or block (bounces sent as HTML
    only: the line structure is what tells an address from its reason)."""
    text = _HTML_SKIP.sub(" ", markup)
    text = _HTML_TAG.sub(" ", _HTML_BREAK.sub("\n", text.replace("\n", " ")))
    lines = (_BLANKS.sub(" ", html.unescape(line)).strip() for line in text.split("\n"))
    return "\n".join(lines)


def field_blocks(text: str) -> list[dict[str, list[str]]]:
    """Parse RFC 3464/5965-style field blocks (separated by blank lines).

    Field names are lower-cased; folded lines are unfolded; a field may repeat
    (``Original-Rcpt-To`` does), so values are lists. Lines that are not fields
    are skipped: deliberately lenient, as real reports contain junk.
    """
    # The usual text breaks lines only at LF or CRLF: its fields are found with one
    # multi-line regex per block. Any other character str.splitlines breaks at (a lone
    # CR, a form feed, U+2028 …) takes the line-by-line reading, which is the definition.
    plain = text.replace("\r\n", "\n") if "\r" in text else text
    if _odd_breaks(plain):
        return _blocks_by_line(text)
    blocks: list[dict[str, list[str]]] = []
    for chunk in _BLANK_LINE_LF.split(plain.strip("\n")):
        fields: dict[str, list[str]] = {}
        for raw_name, value in _FIELD_LINE.findall(_FOLD_LF.sub(" ", chunk)):
            name = raw_name.lower()
            known = fields.get(name)
            if known is None:
                fields[name] = [value.strip()]
                continue
            if name == "final-recipient":
                blocks.append(fields)  # see _blocks_by_line
                fields = {name: [value.strip()]}
                continue
            known.append(value.strip())
        if fields:
            blocks.append(fields)
    return blocks


def _odd_breaks(text: str) -> bool:
    """Whether ``str.splitlines`` breaks ``text`` anywhere but at LF."""
    if (
        "\r" in text
        or "\x0b" in text
        or "\x0c" in text
        or "\x1c" in text
        or "\x1d" in text
        or "\x1e" in text
    ):
        return True
    return not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text)


def _blocks_by_line(text: str) -> list[dict[str, list[str]]]:
    """:func:`field_blocks`, one ``str.splitlines`` line at a time."""
    blocks: list[dict[str, list[str]]] = []
    for chunk in _BLANK_LINE.split(text.strip("\r\n")):
        fields: dict[str, list[str]] = {}
        for line in _FOLD.sub(" ", chunk).splitlines():
            m = _FIELD.match(line)
            if not m:
                continue
            name = m.group(1).lower()
            if name == "final-recipient" and name in fields:
                # A second recipient with no blank line before it (RFC 3464 wants
                # one): start its own group rather than lose it.
                blocks.append(fields)
                fields = {}
            fields.setdefault(name, []).append(m.group(2).strip())
        if fields:
            blocks.append(fields)
    return blocks


def text_near(text: str, needle: str, *, lines: int = 3, limit: int = 500) -> str:
    """The text around the first line mentioning ``needle``: that line and the next ones.

    The next ones stop at another recipient's entry ("other@example.net: 550 …", as
    OpenSMTPD lists one recipient a line): its reason is not this recipient's.
    """
    low = needle.lower()
    all_lines = text.splitlines()
    for i, line in enumerate(all_lines):
        # "To: <address>" echoes the original's headers; the reason is elsewhere.
        if low in line.lower() and not _HEADER_ECHO.match(line):
            taken = [line]
            for following in all_lines[i + 1 : i + lines]:
                if _ENTRY.match(following) and low not in following.lower():
                    break
                taken.append(following)
            near = " ".join(x.strip() for x in taken if x.strip())
            return near[:limit]
    return ""

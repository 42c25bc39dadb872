"""Header surgery on raw message bytes (sans-IO): read, take out, and prepend fields.

The MTA never re-serialises a message through :mod:`email`: a DKIM signature or
an 8-bit body must reach the receiver byte for byte. These functions touch only
the header block (RFC 5322 section 2.2: ``field-name ":" field-body CRLF``, with
folded continuation lines starting with WSP) and leave the body alone. They
accept bare-LF messages too (files dropped in a pickup folder often have them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "CONTROL_HEADERS",
    "get_header",
    "header_names",
    "prepend_headers",
    "split_message",
    "take_headers",
]

# Headers a submitter uses to talk to the MTA, never meant for the receiver.
CONTROL_HEADERS: tuple[str, ...] = ("x-virtual-mta", "x-job", "x-envid")


def split_message(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its folded lines and line ending) and the rest.

    The rest starts with the blank line that ends the header (or is empty when
    the message has no body).
    """
    fields: list[bytes] = []
    pos = 0
    size = len(raw)
    while pos < size:
        end = raw.find(b"\n", pos)
        end = size if end < 0 else end + 1
        line = raw[pos:end]
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif b":" in line:
            fields.append(line)
        else:
            break  # not a header line: the body starts here (lenient, as receivers are)
        pos = end
    return fields, raw[pos:]


def _name(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("latin-1").lower()


def _value(field: bytes) -> str:
    body = field.split(b":", 1)[1]
    unfolded = b" ".join(part.strip() for part in body.splitlines())
    return unfolded.strip().decode("utf-8", "replace")


def header_names(raw: bytes) -> set[str]:
    """The (lower-cased) names of the header fields ``raw`` has."""
    return {_name(f) for f in split_message(raw)[0]}


def get_header(raw: bytes, name: str) -> str | None:
    """The unfolded value of the first ``name`` field, or ``None``."""
    want = name.lower()
    fields, _ = split_message(raw)
    return next((_value(f) for f in fields if _name(f) == want), None)


def take_headers(raw: bytes, names: Iterable[str]) -> tuple[bytes, dict[str, str]]:
    """Remove every ``names`` field; return the new message and each name's first value."""
    wanted = {n.lower() for n in names}
    fields, rest = split_message(raw)
    found: dict[str, str] = {}
    kept: list[bytes] = []
    for field in fields:
        name = _name(field)
        if name in wanted:
            found.setdefault(name, _value(field))
        else:
            kept.append(field)
    if len(kept) == len(fields):
        return raw, found
    return b"".join(kept) + rest, found


def prepend_headers(raw: bytes, pairs: Sequence[tuple[str, str]]) -> bytes:
    """``raw`` with ``Name: value`` fields added on top, in the message's own line ending."""
    if not pairs:
        return raw
    newline = b"\r\n" if raw.find(b"\r\n") >= 0 or not raw else b"\n"
    head = b"".join(f"{n}: {v}".encode() + newline for n, v in pairs)
    return head + raw

"""The pickup file format (sans-IO): bytes in, a :class:`Submission` or a refusal out.

A pickup file is PowerMTA's: the envelope as ``x-sender:`` and ``x-receiver:``
lines on top of the message, one ``x-receiver`` per recipient::

    x-sender: <bounces@sender.example>
    x-receiver: <alice@example.com>
    x-receiver: bob@example.org
    X-Virtual-MTA: ip-1
    From: News <news@sender.example>
    Subject: ...

The envelope lines are read from anywhere in the header block (PowerMTA writes
them first; we do not insist) and always removed, so a recipient list can never
leak to the receivers. The control headers (``X-Virtual-MTA``, ``X-Job``,
``X-EnvID``) are honoured — the folder is trusted local input — and removed
too. Line endings become CRLF, as a message received over SMTP has them, so the
bytes DKIM signs are the bytes sent.

Nothing is guessed: a file without ``x-receiver`` is refused rather than sent to
addresses taken from ``To:``/``Cc:`` (which may differ from the intended
envelope, e.g. for Bcc). A refusal is a value with a one-line reason, never an
exception: the folder moves the file to ``bad/`` and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from mta.address import mailbox_problem
from mta.delivery.headers import CONTROL_HEADERS, split_message, take_headers
from mta.submit import Submission

__all__ = ["ENVELOPE_FIELDS", "Refused", "parse_pickup_file"]

ENVELOPE_FIELDS: tuple[str, ...] = ("x-sender", "x-receiver")

# RFC 5322 section 3.6.8: field-name = 1*ftext; ftext = %d33-57 / %d59-126.
# Lenient as RFC 5322 section 4.5 (obs-optional) is: WSP may precede the colon.
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*")

# The addresses are checked by the one validator (:mod:`mta.address`): RFC 5321
# mailboxes, UTF-8 allowed (RFC 6531), host names through IDNA.

# RFC 5321 section 4.1.2: Mail-parameters = esmtp-param *(SP esmtp-param);
#   esmtp-param = esmtp-keyword ["=" esmtp-value]
#   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126)
# Accepted after the address (Exchange-style "x-receiver: <a@b> NOTIFY=NEVER") and ignored.
_PARAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(?:=[\x21-\x3c\x3e-\x7e]+)?")
_PATH = re.compile(r"(<[^<>]*>|[^\s<>]+)(?:\s+(.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a pickup file cannot be sent (one line, for ``NAME.reason``)."""

    reason: str


def _address(value: str, what: str, *, null_ok: bool) -> str | Refused:
    m = _PATH.fullmatch(value.strip())
    if m is None:
        return Refused(f"{what} is empty")
    path, params = m.group(1), m.group(2) or ""
    address = path[1:-1].strip() if path.startswith("<") else path
    if not address:
        if not null_ok:
            return Refused(f"{what} is the null address <>")
    else:
        problem = mailbox_problem(address)
        if problem is not None:
            return Refused(f"bad {what} address {address[:80]!r}: {problem}")
    if any(_PARAM.fullmatch(p) is None for p in params.split()):
        return Refused(f"{what} has unexpected text after the address: {params[:80]!r}")
    return address


def _value(field: bytes) -> bytes:
    body = field.split(b":", 1)[1]
    return b" ".join(part.strip() for part in body.splitlines()).strip()


_LINE_END = re.compile(rb"\r?\n")


def _to_crlf(raw: bytes) -> bytes:
    return _LINE_END.sub(b"\r\n", raw)


def _envelope(
    fields: list[bytes],
) -> tuple[str, list[str], list[bytes]] | Refused:
    """The x-sender, the x-receivers and the fields left for the message."""
    senders: list[str] = []
    receivers: list[str] = []
    kept: list[bytes] = []
    for number, field in enumerate(fields, 1):
        name = field.split(b":", 1)[0]
        if _FIELD_NAME.fullmatch(name) is None:
            return Refused(f"header field {number} has a malformed name: {name[:40]!r}")
        key = name.strip().lower()
        if key not in (b"x-sender", b"x-receiver"):
            kept.append(field)
            continue
        try:
            value = _value(field).decode("utf-8")
        except UnicodeDecodeError:
            return Refused(f"{key.decode()} is not valid UTF-8")
        if key == b"x-sender":
            checked = _address(value, "x-sender", null_ok=True)
            target = senders
        else:
            checked = _address(value, "x-receiver", null_ok=False)
            target = receivers
        if isinstance(checked, Refused):
            return checked
        target.append(checked)
    if not senders:
        return Refused("no x-sender")
    if len(senders) > 1:
        return Refused(f"{len(senders)} x-sender lines (one expected)")
    if not receivers:
        return Refused("no x-receiver")
    return senders[0], list(dict.fromkeys(receivers)), kept


def _resolve_vmta(name: str, targets: Collection[str]) -> str | None:
    if name in targets:
        return name
    # Names are matched case-insensitively when that is unambiguous, as an
    # operator typing "IP-1" for "ip-1" expects; the config's spelling is kept.
    folded = [t for t in targets if t.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def parse_pickup_file(
    data: bytes, *, default_vmta: str | None, targets: Collection[str]
) -> Submission | Refused:
    """Read one pickup file: the :class:`Submission` to spool, or why it is refused.

    ``default_vmta`` is the folder's ``virtual-mta``; ``targets`` are the names of
    the configured virtual MTAs and pools (an ``X-Virtual-MTA`` naming anything
    else is refused rather than silently sent from the default).
    """
    if not data.strip():
        return Refused("empty file")
    if b"\x00" in data:
        return Refused("not a message: the file contains NUL bytes")
    fields, rest = split_message(data)
    if not fields:
        return Refused("not a message: the file does not start with header fields")
    if rest and not rest.startswith((b"\r\n", b"\n")):
        line = data[: len(data) - len(rest)].count(b"\n") + 1
        return Refused(f"not a message: line {line} is neither a header field nor blank")
    envelope = _envelope(fields)
    if isinstance(envelope, Refused):
        return envelope
    sender, recipients, kept = envelope
    raw, control = take_headers(b"".join(kept) + rest, CONTROL_HEADERS)
    if not split_message(raw)[0]:
        what = "empty message" if not raw.strip() else "no message header fields"
        return Refused(f"{what} after the envelope and control lines")
    vmta = control.get("x-virtual-mta") or default_vmta
    if vmta is not None:
        known = _resolve_vmta(vmta, targets)
        if known is None:
            return Refused(f"unknown virtual-mta {vmta[:80]!r} (not a <virtual-mta> or pool)")
        vmta = known
    return Submission(
        raw=_to_crlf(raw),
        sender=sender,
        recipients=tuple(recipients),
        origin="pickup",
        vmta=vmta,
        job_id=control.get("x-job") or None,
        env_id=control.get("x-envid") or None,
    )

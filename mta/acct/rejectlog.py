"""The reject log: one CSV row per SMTP command our listener refused.

Same dialect as the accounting file (RFC 4180, UTF-8, CRLF, a header row
first, timestamps as ``2026-11-25 07:43:47+0000``), with the columns in
:data:`REJECT_FIELDS`. Rows are read by the same record core as the accounting
file, so quoting, offsets and quarantine behave identically.

The file is meant for people too (``grep``, a spreadsheet): every text column
— a HELO name, an address or an AUTH user name is whatever a client sent — is
written through :func:`mta.csvsafe.neutralise` (a cell that a spreadsheet would
run as a formula gets a single quote in front), and the
decoder applies :func:`mta.csvsafe.restore`, so what is read back is what the
client sent.

Secrets never reach this file: :func:`encode_reject` cuts an ``AUTH`` command
down to its mechanism (``AUTH PLAIN``), and callers must not log the SASL
exchange lines that follow a 334 reply at all — they are not commands. The
decoder applies the same cut, so a log from elsewhere cannot leak them onward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from mta.acct._csvcore import (
    DEFAULT_MAX_RECORD_SIZE,
    CsvRecord,
    MalformedRow,
    SplitterDecoder,
    encode_row,
    to_malformed,
)
from mta.acct.timefmt import format_time, parse_time
from mta.csvsafe import neutralise, restore

__all__ = [
    "REJECT_FIELDS",
    "REJECT_KINDS",
    "REJECT_REASONS",
    "MalformedRow",
    "RejectKind",
    "RejectLogDecoder",
    "RejectReason",
    "RejectRecord",
    "RejectRow",
    "encode_reject",
    "encode_reject_header",
    "reject_reason",
]

RejectKind = Literal["connect", "helo", "auth", "mail", "rcpt", "data"]
"""The SMTP stage a refusal is filed under (the ``records`` of ``<rejectlog-file>``)."""
REJECT_KINDS: Final[tuple[RejectKind, ...]] = get_args(RejectKind)

RejectReason = Literal[
    # connect
    "smtp-service no",
    "total-max-smtp-in",
    "max-smtp-in",
    # helo, mail, rcpt
    "control character or bad UTF-8 in the command",
    # auth
    "auth-failed",
    "auth locked out",
    "auth line too long",
    "AUTH before STARTTLS",
    # mail
    "local storage (accounting records held)",
    "require-auth",
    "allow-mail-from",
    "bad sender address",
    "max-message-size",
    # rcpt
    "relaying not allowed",
    "bad recipient address",
    "too many recipients",
    "suppressed",
    # data
    "message larger than",
    "unknown X-Virtual-MTA",
    "local error:",
]
"""What a ``reason`` cell starts with: the check (and so the setting) that refused.

The listener adds the particulars after it (``max-smtp-in 10 (<source x>)``); the
table in docs/reject-log.md lists every one.
"""
REJECT_REASONS: Final[tuple[RejectReason, ...]] = get_args(RejectReason)


def reject_reason(reason: RejectReason, detail: str = "") -> str:
    """The ``reason`` cell: ``reason``, then ``detail`` after a space when there is one."""
    return f"{reason} {detail}" if detail else reason


REJECT_FIELDS: Final[tuple[str, ...]] = (
    "timeLogged",
    "remoteIp",
    "remotePort",
    "helo",
    "mailFrom",
    "rcpt",
    "command",
    "reply",
    "reason",
    "authUser",
    "listener",
)
"""The reject log's columns, in file order."""


@dataclass(frozen=True, slots=True)
class RejectRecord:
    """One refused SMTP command.

    ``command`` is the command line as received (``RCPT TO:<a@example.com>``)
    and ``reply`` the full reply we sent (``550 5.7.1 relaying denied``);
    ``reason`` is our short explanation; ``auth_user`` is the authenticated
    (or attempted) user name, never a password. A naive ``time_logged`` or a
    port outside 0-65535 raises :class:`ValueError`.
    """

    time_logged: datetime
    remote_ip: str
    remote_port: int | None = None
    helo: str = ""
    mail_from: str = ""
    rcpt: str = ""
    command: str = ""
    reply: str = ""
    reason: str = ""
    auth_user: str = ""
    listener: str = ""

    def __post_init__(self) -> None:
        if self.time_logged.utcoffset() is None:
            # A caller bug, not input (a plain ValueError): the listener makes aware records.
            raise ValueError("RejectRecord.time_logged must be timezone-aware")
        if self.remote_port is not None and not 0 <= self.remote_port <= 65535:
            # A caller bug, not input (a plain ValueError): the port comes from the socket.
            raise ValueError(f"remote port {self.remote_port} is outside 0-65535")


@dataclass(frozen=True, slots=True)
class RejectRow:
    """A reject-log record and where its bytes are in the stream."""

    offset: int
    length: int
    record: RejectRecord


# RFC 4954 section 4: "AUTH" SP sasl-mech [SP initial-response]. Only the
# mechanism is kept: the initial response carries the credentials.
_AUTH_COMMAND = re.compile(r"\s*(AUTH)(?:\s+(\S+))?(?:\s.*)?", re.IGNORECASE | re.DOTALL)


def _redact(command: str) -> str:
    match = _AUTH_COMMAND.fullmatch(command)
    if match is None:
        return command
    return f"{match[1]} {match[2]}" if match[2] else match[1]


def encode_reject_header() -> bytes:
    """Return the reject log's header row, CRLF-terminated."""
    return encode_row(list(REJECT_FIELDS))


def encode_reject(record: RejectRecord) -> bytes:
    """Encode one reject-log row; an ``AUTH`` command keeps only its mechanism."""
    port = "" if record.remote_port is None else str(record.remote_port)
    text = [
        record.helo,
        record.mail_from,
        record.rcpt,
        _redact(record.command),
        record.reply,
        record.reason,
        record.auth_user,
        record.listener,
    ]
    when, ip = format_time(record.time_logged), neutralise(record.remote_ip)
    return encode_row([when, ip, port, *(neutralise(t) for t in text)])


class RejectLogDecoder(SplitterDecoder[RejectRow | MalformedRow]):
    """Incremental reject-log decoder: feed bytes, get :class:`RejectRow` or :class:`MalformedRow`.

    A header row (first field ``timeLogged``) maps columns by name, so columns
    added by a newer writer are ignored and missing ones read as empty. Rows
    before any header use :data:`REJECT_FIELDS`. ``offset`` and ``pending``
    mean what they mean for the accounting decoder.
    """

    def __init__(self, start_offset: int = 0, *, max_record_size: int = DEFAULT_MAX_RECORD_SIZE):
        super().__init__(start_offset, max_record_size)
        self._fields: tuple[str, ...] = REJECT_FIELDS

    def _interpret(self, records: list[CsvRecord | MalformedRow]) -> list[RejectRow | MalformedRow]:
        out: list[RejectRow | MalformedRow] = []
        for record in records:
            if isinstance(record, MalformedRow):
                out.append(record)
            elif record[2][0] == "timeLogged":
                self._fields = tuple(record[2])  # a header row: nothing to report
            else:
                out.append(self._row(record))
        return out

    def _row(self, record: CsvRecord) -> RejectRow | MalformedRow:
        offset, length, values, _ = record
        if len(values) != len(self._fields):
            return to_malformed(record, f"expected {len(self._fields)} fields, got {len(values)}")
        columns = dict(zip(self._fields, values, strict=True))
        port = columns.get("remotePort", "")
        if port and not (port.isascii() and port.isdigit()):
            return to_malformed(record, f"remotePort {port!r} is not a number")

        def get(name: str, default: str = "") -> str:
            return restore(columns.get(name, default))

        try:
            parsed = RejectRecord(
                time_logged=parse_time(get("timeLogged", "")),
                remote_ip=get("remoteIp", ""),
                remote_port=int(port) if port else None,
                helo=get("helo", ""),
                mail_from=get("mailFrom", ""),
                rcpt=get("rcpt", ""),
                # Redacted on the way in too, so a log written by anyone else
                # cannot carry credentials into the pipeline.
                command=_redact(get("command", "")),
                reply=get("reply", ""),
                reason=get("reason", ""),
                auth_user=get("authUser", ""),
                listener=get("listener", ""),
            )
        except ValueError as exc:
            return to_malformed(record, str(exc))
        return RejectRow(offset, length, parsed)

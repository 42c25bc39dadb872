"""The events of the SMTP core (:mod:`mta.smtp_server.protocol`), and the envelope it keeps.

Events are nouns: what the client asked for. Each needs exactly one reply
(:meth:`~mta.smtp_server.protocol.ServerCore.send`); the reply's code decides
the transition (see :mod:`mta.smtp_server.states`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Answer",
    "Auth",
    "AuthResponse",
    "DataCommand",
    "Envelope",
    "Event",
    "Hello",
    "MailFrom",
    "Message",
    "RcptTo",
    "RefusalKind",
    "StartTls",
]

RefusalKind = Literal["helo", "mail", "rcpt", "data", "auth"]


@dataclass(frozen=True, slots=True)
class Hello:
    """HELO or EHLO with a clean host name: reply 250 (lines) to greet."""

    verb: str
    name: str
    command: str


@dataclass(frozen=True, slots=True)
class MailFrom:
    """MAIL FROM that parsed: ``address`` is ``"<>"`` for the null sender.

    ``params`` are the ESMTP parameters left after the DSN ones (upper-cased);
    ``size`` is SIZE's value, ``env_id`` the decoded ENVID.
    """

    address: str
    params: tuple[str, ...]
    size: int | None
    env_id: str | None
    smtputf8: bool
    command: str


@dataclass(frozen=True, slots=True)
class RcptTo:
    """RCPT TO that parsed, in a transaction."""

    address: str
    params: tuple[str, ...]
    command: str


@dataclass(frozen=True, slots=True)
class DataCommand:
    """DATA with recipients: reply 354 to receive the message (or refuse it)."""

    command: str = "DATA"


@dataclass(frozen=True, slots=True)
class Message:
    """The message's bytes, dot-stuffing undone: reply to end the transaction."""

    content: bytes
    command: str = "DATA"


@dataclass(frozen=True, slots=True)
class StartTls:
    """STARTTLS: reply 220, then start TLS and call :meth:`ServerCore.tls_started`."""

    command: str = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Auth:
    """AUTH with a mechanism we offer; ``initial`` is the initial response (RFC 4954)."""

    mechanism: str
    initial: str | None
    command: str


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """One SASL response line (after a 334), CRLF removed."""

    data: bytes
    command: str = ""  # the AUTH command it answers stays the one to log


@dataclass(frozen=True, slots=True)
class Answer:
    """A command the core answered itself: send ``reply`` (log it when ``kind`` is set).

    ``close``: hang up after the reply. ``verb`` is the command's verb ("" for a
    line that had none).
    """

    verb: str
    reply: str
    command: str
    kind: RefusalKind | None = None
    reason: str = ""
    close: bool = False


Event = Hello | MailFrom | RcptTo | DataCommand | Message | StartTls | Auth | AuthResponse | Answer


@dataclass(slots=True)
class Envelope:
    """The transaction so far (cleared by RSET, HELO/EHLO and the end of DATA)."""

    mail_from: str | None = None
    smtp_utf8: bool = False
    mail_options: list[str] = field(default_factory=list)
    rcpt_tos: list[str] = field(default_factory=list)
    rcpt_options: list[str] = field(default_factory=list)

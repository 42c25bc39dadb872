"""The outbound SMTP connection: aiosmtplib, with every failure turned into a :class:`Reply`.

One :class:`Connection` is one session to one receiving host, reused for up to
``max-msg-per-connection`` messages. Hosts are tried in order until one greets
us; the source address is bound when the vmta has an ``smtp-source-host``.
STARTTLS is opportunistic (used when offered) or required (no session without
it); certificates are not verified, as is usual between MTAs (RFC 7435:
opportunistic security). aiosmtplib does not pipeline (its protocol keeps one
reply in flight), so each command costs one round trip.

Nothing here raises for a receiver's behaviour: a refused connection, a 421
greeting, a timeout or a dropped line all come back as replies the engine
accounts for.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import aiosmtplib

from mta.config.values import Address
from mta.delivery.attempt import NO_ANSWER, Reply

__all__ = ["Connection", "OpenFailure", "SendResult", "TlsMode", "open_connection"]

TlsMode = Literal["no", "opportunistic", "required"]
_NETWORK_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class SendResult:
    """Each recipient's final reply, and whether the connection is still usable."""

    replies: dict[str, Reply]
    closed: bool = False
    remote_mta: str = ""


@dataclass(slots=True)
class OpenFailure:
    """No session could be opened: the last host's reply (or why there was none)."""

    reply: Reply
    host: str = ""


@dataclass(slots=True)
class Connection:
    """An open SMTP session."""

    smtp: aiosmtplib.SMTP
    host: str
    port: int
    source_ip: str
    tls: bool
    esmtp: bool
    sent: int = 0
    extensions: frozenset[str] = field(default_factory=frozenset)

    async def send(
        self, sender: str, recipients: Sequence[str], raw: bytes, *, timeout: float
    ) -> SendResult:
        """MAIL, RCPT for each recipient, DATA; every recipient gets a reply."""
        options = []
        if "8bitmime" in self.extensions and not raw.isascii():
            options.append("BODY=8BITMIME")
        wide = not all(a.isascii() for a in (sender, *recipients))
        if wide:
            if "smtputf8" not in self.extensions:
                reply = Reply(553, "5.6.7 the receiver does not support SMTPUTF8 addresses")
                return SendResult(dict.fromkeys(recipients, reply))
            options.append("SMTPUTF8")
        self.sent += 1
        try:
            errors, message = await self.smtp.sendmail(
                sender, list(recipients), raw, mail_options=options, timeout=timeout
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            replies = {r.recipient: Reply(r.code, r.message) for r in exc.recipients}
            return SendResult(replies, closed=any(r.code == 421 for r in exc.recipients))
        except aiosmtplib.SMTPResponseException as exc:
            reply = Reply(exc.code, exc.message)
            closed = exc.code == 421 or not self.smtp.is_connected
            return SendResult(dict.fromkeys(recipients, reply), closed=closed)
        except _NETWORK_ERRORS as exc:
            reply = NO_ANSWER(f"connection to {self.host} lost: {exc or type(exc).__name__}")
            return SendResult(dict.fromkeys(recipients, reply), closed=True)
        ok = Reply(250, message)
        replies = {
            r: Reply(errors[r].code, errors[r].message) if r in errors else ok for r in recipients
        }
        return SendResult(replies, closed=not self.smtp.is_connected)

    async def close(self) -> None:
        """QUIT politely; never raises."""
        if self.smtp.is_connected:
            try:
                await self.smtp.quit(timeout=5)
            except _NETWORK_ERRORS:
                self.smtp.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # One context for every outbound session: building one loads the CA store (~20 ms
    # of CPU), and opportunistic STARTTLS between MTAs does not verify certificates.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def open_connection(
    hosts: Sequence[Address],
    *,
    helo: str,
    source_ip: str | None,
    tls: TlsMode,
    timeout: float,
) -> Connection | OpenFailure:
    """A session with the first host that greets us (and agrees to TLS when required)."""
    failure = OpenFailure(NO_ANSWER("no mail host to try"))
    for address in hosts:
        port = address.port or 25
        smtp = aiosmtplib.SMTP(
            hostname=address.host,
            port=port,
            local_hostname=helo,
            source_address=(source_ip, 0) if source_ip else None,
            timeout=timeout,
            start_tls={"no": False, "opportunistic": None, "required": True}[tls],
            validate_certs=False,
            tls_context=_tls_context(),
        )
        try:
            await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:
                await smtp.ehlo()
        except aiosmtplib.SMTPResponseException as exc:
            failure = OpenFailure(Reply(exc.code, exc.message), address.host)
            smtp.close()
            continue
        except _NETWORK_ERRORS as exc:
            why = str(exc) or type(exc).__name__
            failure = OpenFailure(
                NO_ANSWER(f"cannot connect to {address.host}:{port}: {why}"), address.host
            )
            smtp.close()
            continue
        extensions = frozenset(k.lower() for k in smtp.esmtp_extensions)
        return Connection(
            smtp,
            address.host,
            port,
            source_ip or "",
            smtp.get_transport_info("sslcontext") is not None,
            bool(smtp.supports_esmtp),
            extensions=extensions,
        )
    return failure

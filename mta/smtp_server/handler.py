"""The listener's policy: what we answer to each event of the SMTP core.

:meth:`InboundHandler.handle` takes one event of
:class:`~mta.smtp_server.protocol.ServerCore` (EHLO, AUTH, MAIL, RCPT, DATA,
the message, or a command the core answered itself), gathers the session
facts, asks a sans-IO decision (:mod:`mta.smtp_server.relay`,
:mod:`mta.smtp_server.decisions`), files refusals in the reject log through
:meth:`InboundSession.refuse`, and sends the reply. The order of the checks
is the documented policy order (docs/smtp-listener.md).
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import logging
import secrets
from base64 import b64decode, b64encode
from typing import Final

from mta.acct.rejectlog import reject_reason
from mta.config.model import Config
from mta.delivery.headers import prepend_headers
from mta.errors import LocalError
from mta.smtp_server.decisions import (
    Prepared,
    address_refusal,
    ehlo_lines,
    prepare_message,
    printable,
    received_header,
    with_protocol,
)
from mta.smtp_server.protocol import (
    Answer,
    Auth,
    AuthResponse,
    DataCommand,
    Event,
    Hello,
    MailFrom,
    Message,
    RcptTo,
    StartTls,
)
from mta.smtp_server.relay import check_mail_from, check_rcpt, check_size, source_for
from mta.smtp_server.session import MAX_AUTH_FAILURES, InboundSession, ListenerState
from mta.submit import Submission

__all__ = ["InboundHandler", "authenticate"]

log = logging.getLogger("mta.smtp_server.listener")

MAX_RECIPIENTS: Final = 1000
"""Recipients per transaction (RFC 5321 section 4.5.3.1.8 asks for at least 100)."""

AUTH_OK: Final = "235 2.7.0 Authentication successful"
AUTH_FAILED: Final = "535 5.7.8 Authentication credentials invalid"
AUTH_LOCKED: Final = "421 4.7.0 Too many failed authentication attempts, try again later"
AUTH_NEEDS_TLS: Final = "538 5.7.11 Encryption required for requested authentication mechanism"
LOCAL_FAILURE: Final = "451 4.3.0 Temporary local problem, please try again later"


def _digest(secret: bytes) -> bytes:
    # Comparing digests keeps the comparison constant-time even across lengths.
    return hashlib.sha256(secret).digest()


def authenticate(conn: InboundSession, mechanism: str, login_bytes: bytes, password: bytes) -> str:
    """Check a PLAIN/LOGIN user against ``<smtp-user>``; the reply (235 on success).

    Passwords are compared in constant time and never logged; a failure is
    filed in the reject log with the attempted user name only, counted by the
    listener's :class:`~mta.smtp_server.authlimit.AuthLimiter` (its 535 is delayed by the
    verdict), and a locked-out address or user name gets ``421 4.7.0`` without
    its password being checked. After a
    success the session counts against the user's named source, whose
    ``max-smtp-in`` may refuse it (454 4.7.0, RFC 4954's temporary failure).
    """
    config = conn.refresh()
    login = login_bytes.decode("utf-8", "surrogateescape")
    limiter = conn.state.auth_limiter
    left = limiter.locked(conn.ip, login)
    if left is not None:  # the password is not even looked at: guessing gains nothing
        conn.auth_locked = True
        why = f"for {left:.0f} s (too many failures for this user or address)"
        reason = reject_reason("auth locked out", why)
        conn.refuse("auth", AUTH_LOCKED, reason, auth_user=login)
        return AUTH_LOCKED
    user = next((u for u in config.smtp_users if u.name == login), None)
    # Hash something even for an unknown user, so timing does not tell them apart.
    expected = _digest(
        user.password.encode("utf-8") if user is not None else secrets.token_bytes(16)
    )
    if user is None or not hmac.compare_digest(expected, _digest(password)):
        conn.failed_auths += 1
        verdict = limiter.failure(conn.ip, login)
        conn.auth_delay = verdict.delay
        reason = reject_reason("auth-failed", "" if user is not None else "(no such user)")
        reason += (
            f"; failure {verdict.by_address} from this address, {verdict.by_user} for this user"
            f" in {limiter.window:.0f} s; 535 delayed {verdict.delay:g} s"
        )
        if verdict.locked:
            reason += f"; locked out for {limiter.window:.0f} s"
        conn.refuse("auth", AUTH_FAILED, reason, auth_user=login)
        return AUTH_FAILED
    named = source_for(config, conn.ip, user.name)
    if not conn.may_count(named):
        key, cap = conn.cap_for(named) or ("", 0)
        where = key if key.startswith("address ") else f"<source {key}>"
        reply = "454 4.7.0 Too many concurrent sessions for this user, try again later"
        conn.refuse(
            "auth", reply, reject_reason("max-smtp-in", f"{cap} ({where})"), auth_user=login
        )
        return reply
    conn.hold(named)
    limiter.success(conn.ip)
    log.info("%s authenticated as %s (%s)", conn.ip, printable(login, 100), mechanism)
    # Keep only the user name: the password does not outlive this call.
    conn.user_name = user.name
    return AUTH_OK


_LOGIN_USER: Final = "334 " + b64encode(b"User Name\x00").decode()
_LOGIN_PASSWORD: Final = "334 " + b64encode(b"Password\x00").decode()


class InboundHandler:
    """The policy for one listener (shared by its connections): one method per event."""

    async def handle(self, conn: InboundSession, event: Event) -> None:
        """Answer ``event`` (exactly one reply; some also close the connection)."""
        match event:
            case Answer():
                self.answer(conn, event)
            case Hello():
                self.hello(conn, event)
            case MailFrom():
                self.mail(conn, event)
            case RcptTo():
                self.rcpt(conn, event)
            case DataCommand():
                conn.reply("354 End data with <CR><LF>.<CR><LF>")
            case Message():
                reply = await self.message(conn, event.content)
                conn.reply(reply)
                if conn.state.stopping:
                    conn.shut_down()
            case StartTls():
                await conn.start_tls()
            case Auth():
                await self.auth(conn, event)
            case AuthResponse():
                await self.auth_response(conn, event.data)

    @staticmethod
    def answer(conn: InboundSession, event: Answer) -> None:
        """A command the core answered: log it where it is a refusal; a stop ends the session."""
        stopping = conn.state.stopping
        if event.verb == "MAIL" and stopping:
            conn.shut_down()
            return
        if event.verb in ("HELO", "EHLO", "MAIL"):
            conn.refresh()
        reply = event.reply
        if event.kind is not None:
            reply = conn.refuse(event.kind, reply, event.reason)
        conn.reply(reply)
        if event.close:
            conn.close()
        elif stopping and event.verb in ("RSET", "DATA"):
            conn.shut_down()

    def hello(self, conn: InboundSession, event: Hello) -> None:
        """HELO, or EHLO with PIPELINING, SIZE (the source's limit), 8BITMIME, SMTPUTF8,
        STARTTLS before TLS, and AUTH only where it may be used (TLS, or allowed without)."""
        conn.refresh()
        hostname = conn.state.hostname
        if event.verb == "HELO":
            conn.reply(f"250 {hostname}")
            return
        responses = [f"250-{hostname}", f"250-SIZE {conn.data_size_limit}"]
        responses += ["250-8BITMIME", "250-SMTPUTF8"]
        if not conn.core.tls:
            responses.append("250-STARTTLS")
        responses.append("250-AUTH " + " ".join(sorted(conn.core.auth_mechanisms)))
        responses.append("250 HELP")
        # the core sets the greeting name on the 250; auth_allowed reads the source, not it
        conn.reply(ehlo_lines(responses, offer_auth=self._auth_allowed(conn)))

    @staticmethod
    def _auth_allowed(conn: InboundSession) -> bool:
        listener = conn.state.listener
        if not listener.auth_mechanisms:
            return False
        if conn.core.tls or not listener.require_starttls_before_auth:
            return True
        source = source_for(conn.config, conn.ip)  # before AUTH: the address's source
        return source is not None and source.allow_unencrypted_plain_auth

    def mail(self, conn: InboundSession, event: MailFrom) -> None:
        """SIZE against the source, then listener require-auth, the source's require-auth
        and allow-mail-from; 452 while the MTA cannot take mail (its accounting records
        cannot be written)."""
        if conn.state.stopping:
            conn.shut_down()
            return
        config = conn.refresh()
        conn.reply(self._mail_reply(conn, config, event))

    @staticmethod
    def _mail_reply(conn: InboundSession, config: Config, event: MailFrom) -> str:
        if event.size is not None:
            decision = check_size(config, conn.ip, conn.user_name, event.size)
            if not decision.ok:
                return conn.refuse("mail", decision.reply, decision.reason)
            if event.size > conn.data_size_limit:
                return "552 Error: message size exceeds fixed maximum message size"
        address = event.address
        sender = "" if address == "<>" else address
        storage = conn.state.storage() if conn.state.storage is not None else None
        if storage is not None:
            return conn.refuse(
                "mail", storage, reject_reason("local storage (accounting records held)")
            )
        listener = conn.state.listener
        if listener.require_auth and conn.user_name is None:
            reason = reject_reason("require-auth", f"(smtp-listener {listener.address})")
            return conn.refuse("mail", "530 5.7.0 Authentication required", reason)
        decision = check_mail_from(config, conn.ip, conn.user_name, sender)
        if not decision.ok:
            return conn.refuse("mail", decision.reply, decision.reason)
        problem = address_refusal(sender, smtputf8=event.smtputf8, sender=True) if sender else None
        if problem is not None:
            return conn.refuse("mail", problem, reject_reason("bad sender address"))
        conn.env_id, conn.local_rcpts = event.env_id, set()
        return "250 2.1.0 Sender OK"

    @staticmethod
    def rcpt(conn: InboundSession, event: RcptTo) -> None:
        """Our own addresses (returned mail) are taken as is; every other needs relaying."""
        conn.reply(_rcpt_reply(conn, event.address))

    async def message(self, conn: InboundSession, content: bytes) -> str:
        """Strip and honour the control headers, add Received, hand over; 250 once durable."""
        state, config, source, core = conn.state, conn.config, conn.source, conn.core
        envelope = core.envelope
        prepared = prepare_message(
            content, config=config, source=source, listener=state.listener, env_id=conn.env_id
        )
        if not isinstance(prepared, Prepared):
            return conn.refuse("data", prepared.reply, prepared.reason)
        msg_id = secrets.token_hex(6).upper()
        trace = received_header(
            helo=core.host_name,
            ip=conn.ip,
            hostname=state.hostname,
            protocol=with_protocol(
                esmtp=core.extended,
                tls=core.tls,
                auth=conn.user_name is not None,
                utf8=envelope.smtp_utf8,
            ),
            msg_id=msg_id,
            recipients=envelope.rcpt_tos,
            when=state.clock(),
        )
        sender = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
        local = tuple(r for r in envelope.rcpt_tos if r in conn.local_rcpts)
        remote = tuple(r for r in envelope.rcpt_tos if r not in conn.local_rcpts)
        ids: list[str] = []
        try:
            # Returned mail first: consuming it is idempotent where a second
            # spooled copy would be a duplicate delivery.
            if local and state.local is not None:
                raw = prepend_headers(content, [("Received", trace)])
                await state.local.consume(raw, sender, local, conn.ip)
            if remote:
                submission = Submission(
                    prepend_headers(prepared.raw, [("Received", trace)]),
                    sender,
                    remote,
                    origin="smtp",
                    vmta=prepared.vmta,
                    job_id=prepared.job_id,
                    env_id=prepared.env_id,
                    source_ip=conn.ip,
                    auth_user=conn.user_name,
                    source=source.match if source is not None else "",
                )
                ids = await state.submitter.submit(submission)
        except LocalError as exc:
            return conn.refuse("data", LOCAL_FAILURE, reject_reason("local error:", str(exc)))
        state.accepted += 1
        return f"250 2.0.0 OK queued as {' '.join(ids) or msg_id}"

    async def auth(self, conn: InboundSession, event: Auth) -> None:
        """Refuse AUTH before STARTTLS where TLS is required (538 5.7.11, RFC 4954), or
        from a locked-out address; else start the PLAIN / LOGIN exchange (RFC 4616)."""
        if not self._auth_allowed(conn):
            conn.reply(conn.refuse("auth", AUTH_NEEDS_TLS, reject_reason("AUTH before STARTTLS")))
            return
        left = conn.state.auth_limiter.locked(conn.ip)
        if left is not None:  # before the credentials are even read
            why = f"for {left:.0f} s (too many failures from this address)"
            reason = reject_reason("auth locked out", why)
            conn.reply(conn.refuse("auth", AUTH_LOCKED, reason))
            conn.close()
            return
        conn.mechanism, conn.sasl = event.mechanism, []
        if event.initial is None:
            conn.reply("334 " if event.mechanism == "PLAIN" else _LOGIN_USER)
            return
        # RFC 4954 section 4: an initial response of "=" is a zero-length one.
        initial = b"" if event.initial == "=" else event.initial.encode("utf-8", "surrogateescape")
        await self._sasl_step(conn, initial)

    async def auth_response(self, conn: InboundSession, line: bytes) -> None:
        """One SASL response: ``*`` cancels (RFC 4954 section 4), else base64 credentials."""
        if line == b"*":
            self._auth_done(conn, "501 5.7.0 Auth aborted")
            return
        await self._sasl_step(conn, line)

    async def _sasl_step(self, conn: InboundSession, blob: bytes) -> None:
        try:
            data = b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            self._auth_done(conn, "501 5.5.2 Can't decode base64")
            return
        if conn.mechanism == "PLAIN":
            # RFC 4616: message = [authzid] UTF8NUL authcid UTF8NUL passwd
            parts = data.split(b"\x00")
            if len(parts) != 3:
                self._auth_done(conn, "501 5.5.2 Can't split auth value")
                return
            login, password = parts[1], parts[2]
        else:
            conn.sasl.append(data)
            if len(conn.sasl) == 1:
                conn.reply(_LOGIN_PASSWORD)
                return
            login, password = conn.sasl
        conn.sasl = []
        reply = authenticate(conn, conn.mechanism, login, password)
        if reply == AUTH_FAILED and conn.auth_delay:
            delay, conn.auth_delay = conn.auth_delay, 0.0
            await asyncio.sleep(delay)  # the AUTH limiter's verdict: slow the guesser down
        self._auth_done(conn, reply)

    @staticmethod
    def _auth_done(conn: InboundSession, reply: str) -> None:
        conn.reply(reply)
        if conn.user_name is not None:
            conn.refresh()  # the user's named source may set another SIZE
        elif conn.auth_locked:
            conn.close()  # the 421 has been sent
        elif conn.failed_auths >= MAX_AUTH_FAILURES:
            conn.reply("421 4.7.0 Too many authentication failures")
            conn.close()

    async def handle_exception(self, error: Exception) -> str:
        """A bug in a hook: log it, and ask the client to retry (never leak the details)."""
        log.error("SMTP listener error", exc_info=error)
        return LOCAL_FAILURE


def _rcpt_reply(conn: InboundSession, address: str) -> str:
    refuse = conn.refuse
    envelope = conn.core.envelope
    if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
        return refuse(
            "rcpt",
            "452 4.5.3 Too many recipients",
            reject_reason("too many recipients"),
            rcpt=address,
        )
    problem = address_refusal(address, smtputf8=envelope.smtp_utf8)
    if problem is not None:
        return refuse("rcpt", problem, reject_reason("bad recipient address"), rcpt=address)
    local = conn.state.local
    if local is not None and local.is_local(address):
        conn.local_rcpts.add(address)
    else:
        decision = check_rcpt(conn.config, conn.ip, conn.user_name, address)
        if not decision.ok:
            return refuse("rcpt", decision.reply, decision.reason, rcpt=address)
        refusal = _suppressed(conn.state, conn.config, address, envelope.mail_from or "")
        if refusal is not None:
            return refuse("rcpt", refusal[0], refusal[1], rcpt=address)
    return "250 2.1.5 Recipient OK"


def _suppressed(
    state: ListenerState, config: Config, rcpt: str, sender: str
) -> tuple[str, str] | None:
    """(reply, reason) when ``suppressed-recipients reject`` refuses ``rcpt``, else None."""
    if state.suppressed is None or config.suppressed_recipients != "reject":
        return None
    why = state.suppressed(rcpt, sender)
    if why is None:
        return None
    template = config.suppressed_recipient_reply
    reply = template.replace("{rcpt}", rcpt).replace("{reason}", why)
    return reply, reject_reason("suppressed", f"({why})")

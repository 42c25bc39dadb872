"""The listener's aiosmtpd handler: what we answer to EHLO, AUTH, MAIL, RCPT and DATA.

Each hook gathers the session facts, asks a sans-IO decision
(:mod:`mta.smtp_server.relay`, :mod:`mta.smtp_server.decisions`), files refusals in the reject log
through :meth:`InboundSMTP.refuse`, and returns the reply line. The order of
the checks is the documented policy order (docs/smtp-listener.md).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any, Final

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

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
from mta.smtp_server.relay import check_mail_from, check_rcpt, source_for
from mta.smtp_server.session import InboundSMTP, ListenerState
from mta.submit import Submission

__all__ = ["InboundHandler", "authenticate"]

log = logging.getLogger("mta.smtp_server.listener")

MAX_RECIPIENTS: Final = 1000
"""Recipients per transaction (RFC 5321 section 4.5.3.1.8 asks for at least 100)."""

AUTH_FAILED: Final = "535 5.7.8 Authentication credentials invalid"
AUTH_LOCKED: Final = "421 4.7.0 Too many failed authentication attempts, try again later"
AUTH_NEEDS_TLS: Final = "538 5.7.11 Encryption required for requested authentication mechanism"
LOCAL_FAILURE: Final = "451 4.3.0 Temporary local problem, please try again later"


def _conn(server: SMTP) -> InboundSMTP:
    if not isinstance(server, InboundSMTP):
        raise TypeError(f"the listener handler serves InboundSMTP, not {type(server).__name__}")
    return server


def _digest(secret: bytes) -> bytes:
    # Comparing digests keeps the comparison constant-time even across lengths.
    return hashlib.sha256(secret).digest()


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """aiosmtpd's authenticator: check a PLAIN/LOGIN user against ``<smtp-user>``.

    Passwords are compared in constant time and never logged; a failure is
    filed in the reject log with the attempted user name only, counted by the
    listener's :class:`~mta.smtp_server.authlimit.AuthLimiter` (its 535 is delayed by the
    verdict), and a locked-out address or user name gets ``421 4.7.0`` without
    its password being checked. After a
    success the session counts against the user's named source, whose
    ``max-smtp-in`` may refuse it (454 4.7.0, RFC 4954's temporary failure).
    """
    conn = _conn(server)
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False, message=AUTH_FAILED)
    config = conn.refresh()
    login = auth_data.login.decode("utf-8", "surrogateescape")
    limiter = conn.state.auth_limiter
    left = limiter.locked(conn.ip, login)
    if left is not None:  # the password is not even looked at: guessing gains nothing
        conn.auth_locked = True
        why = f"for {left:.0f} s (too many failures for this user or address)"
        reason = reject_reason("auth locked out", why)
        conn.refuse("auth", AUTH_LOCKED, reason, auth_user=login)
        return AuthResult(success=False, handled=False, message=AUTH_LOCKED)
    user = next((u for u in config.smtp_users if u.name == login), None)
    # Hash something even for an unknown user, so timing does not tell them apart.
    expected = _digest(
        user.password.encode("utf-8") if user is not None else secrets.token_bytes(16)
    )
    if user is None or not hmac.compare_digest(expected, _digest(auth_data.password)):
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
        return AuthResult(success=False, handled=False, message=AUTH_FAILED)
    named = source_for(config, conn.ip, user.name)
    if not conn.may_count(named):
        key, cap = conn.cap_for(named) or ("", 0)
        where = key if key.startswith("address ") else f"<source {key}>"
        reply = "454 4.7.0 Too many concurrent sessions for this user, try again later"
        conn.refuse(
            "auth", reply, reject_reason("max-smtp-in", f"{cap} ({where})"), auth_user=login
        )
        return AuthResult(success=False, handled=False, message=reply)
    conn.hold(named)
    limiter.success(conn.ip)
    log.info("%s authenticated as %s (%s)", conn.ip, printable(login, 100), mechanism)
    # Keep only the user name: the password does not outlive this call.
    return AuthResult(success=True, auth_data=user.name)


class InboundHandler:
    """aiosmtpd handler hooks for one listener (shared by its connections)."""

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Advertise PIPELINING, and AUTH only where it may be used (TLS, or allowed without)."""
        session.host_name = hostname
        return ehlo_lines(responses, offer_auth=self._auth_allowed(_conn(server), session))

    @staticmethod
    def _auth_allowed(conn: InboundSMTP, session: Session) -> bool:
        listener = conn.state.listener
        if not listener.auth_mechanisms:
            return False
        if session.ssl is not None or not listener.require_starttls_before_auth:
            return True
        source = source_for(conn.config, conn.ip)  # before AUTH: the address's source
        return source is not None and source.allow_unencrypted_plain_auth

    async def handle_AUTH(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> object:
        """Refuse AUTH before STARTTLS where TLS is required (538 5.7.11, RFC 4954)."""
        conn = _conn(server)
        if not self._auth_allowed(conn, session):
            return conn.refuse("auth", AUTH_NEEDS_TLS, reject_reason("AUTH before STARTTLS"))
        left = conn.state.auth_limiter.locked(conn.ip)
        if left is not None:  # before the credentials are even read
            conn.auth_locked = True
            why = f"for {left:.0f} s (too many failures from this address)"
            reason = reject_reason("auth locked out", why)
            return conn.refuse("auth", AUTH_LOCKED, reason)
        return MISSING  # go on with aiosmtpd's PLAIN / LOGIN exchange

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        """Listener require-auth, then the source's require-auth and allow-mail-from; 452
        while the MTA cannot take mail (its accounting records cannot be written)."""
        conn = _conn(server)
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
        decision = check_mail_from(conn.config, conn.ip, conn.user_name, sender)
        if not decision.ok:
            return conn.refuse("mail", decision.reply, decision.reason)
        problem = (
            address_refusal(sender, smtputf8=envelope.smtp_utf8, sender=True) if sender else None
        )
        if problem is not None:
            return conn.refuse("mail", problem, reject_reason("bad sender address"))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        conn.env_id, conn.local_rcpts = conn.pending_env_id, set()
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        """Our own addresses (returned mail) are taken as is; every other needs relaying."""
        conn = _conn(server)
        refuse = conn.refuse
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
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Strip and honour the control headers, add Received, hand over; 250 once durable."""
        conn = _conn(server)
        conn.data_handled = True
        state, config, source = conn.state, conn.config, conn.source
        prepared = prepare_message(
            envelope.original_content or b"",
            config=config,
            source=source,
            listener=state.listener,
            env_id=conn.env_id,
        )
        if not isinstance(prepared, Prepared):
            return conn.refuse("data", prepared.reply, prepared.reason)
        msg_id = secrets.token_hex(6).upper()
        trace = received_header(
            helo=session.host_name,
            ip=conn.ip,
            hostname=state.hostname,
            protocol=with_protocol(
                esmtp=session.extended_smtp,
                tls=session.ssl is not None,
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
                raw = prepend_headers(envelope.original_content or b"", [("Received", trace)])
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

    async def handle_exception(self, error: Exception) -> str:
        """A bug in a hook: log it, and ask the client to retry (never leak the details)."""
        log.error("SMTP listener error", exc_info=error)
        return LOCAL_FAILURE


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

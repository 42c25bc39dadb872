"""One inbound SMTP connection: aiosmtpd's protocol with our connection-level policy.

aiosmtpd runs the command loop and the session state machine; this subclass
adds what happens around it: the ``smtp-service`` and ``max-smtp-in`` checks
before the banner, the per-source config snapshot (taken at connect, EHLO,
AUTH and MAIL, so a reload applies from the next transaction), the DSN
parameters aiosmtpd does not know, and a graceful stop. Per-command decisions
are the handler hooks in :mod:`mta.smtp_server.handler`.

It extends aiosmtpd where it offers no hook: ``_handle_client`` (before the
banner), ``push`` (to remember the last reply) and the ``smtp_*`` command
methods it wraps and calls back. These are stable across aiosmtpd 1.4.x; the
socket tests fail loudly if a release changes them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, AnyStr, Final

from aiosmtpd.smtp import MISSING, SMTP, Envelope

from mta.acct.rejectlog import RejectRecord, reject_reason
from mta.config.model import Config, Listener, Source
from mta.failurelog import FailureLog
from mta.smtp_server.authlimit import AuthLimiter
from mta.smtp_server.data import read_data
from mta.smtp_server.decisions import command_refusal, parse_params, printable, split_path
from mta.smtp_server.relay import Decision, check_connect, check_size, source_for

if TYPE_CHECKING:
    from mta.acct.rejectfile import RejectKind, RejectLogFile
    from mta.smtp_server.listener import LocalMail
    from mta.submit import Submitter

# RFC 5321 section 4.1.2: Path = "<" Mailbox ">", Mailbox = Local-part "@" Domain, with the
# local part a Dot-string of atext and the domain dot-separated LDH labels (the common case).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH: Final = re.compile(
    rf"\s*<(({_ATEXT}(?:\.{_ATEXT})*)@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>[ \t]*([^()]*)\Z",
    re.DOTALL,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_SMTP_IN",
    "ConnectionGate",
    "InboundSMTP",
    "ListenerState",
]

log = logging.getLogger("mta.smtp_server.listener")

DEFAULT_MAX_MESSAGE_SIZE: Final = 32 << 20
"""SIZE when the source sets no ``max-message-size``: aiosmtpd buffers DATA in memory."""

MAX_AUTH_FAILURES: Final = 3
"""Failed AUTH attempts per connection before we hang up (slows password guessing).

Across connections, :class:`mta.smtp_server.authlimit.AuthLimiter` delays each 535 and locks out."""

SHUTDOWN_REPLY: Final = "421 4.3.2 Service shutting down"
TOO_MANY_REPLY: Final = "421 4.7.0 Too many connections, try again later"

DEFAULT_MAX_SMTP_IN: Final = 100
"""Concurrent sessions from one client address when its ``<source>`` sets no ``max-smtp-in``."""


@dataclass(eq=False)
class ConnectionGate:
    """Inbound sessions open in the process: what ``total-max-smtp-in`` caps.

    One gate is shared by every listener of a process (the MTA server passes
    the same one to each), so the cap holds for all of them together.
    """

    open: int = 0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class ListenerState:
    """What every connection of one listener shares: wiring, counters, live sessions."""

    get_config: Callable[[], Config]
    listener: Listener
    submitter: Submitter
    hostname: str
    reject_log: RejectLogFile | None = None
    local: LocalMail | None = None
    suppressed: Callable[[str, str], str | None] | None = None  # (rcpt, sender) -> reason
    storage: Callable[[], str | None] | None = None  # the reply while mail cannot be taken
    clock: Callable[[], datetime] = utcnow
    default_max_size: int = DEFAULT_MAX_MESSAGE_SIZE
    label: str = ""
    auth_limiter: AuthLimiter = field(default_factory=AuthLimiter)
    gate: ConnectionGate = field(default_factory=ConnectionGate)
    sessions: set[InboundSMTP] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    per_source: collections.Counter[str] = field(default_factory=collections.Counter)
    accepted: int = 0
    rejected: int = 0
    stopping: bool = False
    reject_failures: FailureLog = field(
        default_factory=lambda: FailureLog(log, "writing the reject log")
    )


class InboundSMTP(SMTP):
    """aiosmtpd's SMTP for one inbound connection (one instance per connection).

    aiosmtpd offers every member named ``auth_*`` as a SASL mechanism, so no
    attribute or method here may start with ``auth_``.
    """

    def __init__(self, state: ListenerState, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.state = state
        self.ip = "unknown"
        self.port: int | None = None
        self.config: Config = state.get_config()
        self.source: Source | None = None  # the <source> in force (the user's, after AUTH)
        self.held: str | None = None  # the source this connection counts against
        self.command = ""  # the command being answered, for the reject log
        self.pending_env_id: str | None = None
        self.env_id: str | None = None
        self.local_rcpts: set[str] = set()
        self.in_data = False
        self.data_handled = False
        self.last_reply = ""
        self.failed_auths = 0
        self.auth_delay = 0.0  # wait this long before the next 535 (the AUTH limiter's verdict)
        self.auth_locked = False  # the AUTH limiter locked us out: hang up after the reply

    # -- state ------------------------------------------------------------------------

    @property
    def user_name(self) -> str | None:
        """The authenticated user name, or ``None``."""
        session = self.session
        # aiosmtpd types auth_data as None; our authenticator stores the user name.
        data: object = session.auth_data if session is not None and session.authenticated else None
        return data if isinstance(data, str) else None

    @property
    def busy(self) -> bool:
        """In a mail transaction (MAIL accepted, or DATA being received or submitted)."""
        return self.in_data or bool(self.envelope is not None and self.envelope.mail_from)

    def refresh(self) -> Config:
        """Take a fresh config snapshot and recompute the source in force and its SIZE."""
        self.config = self.state.get_config()
        self.source = source_for(self.config, self.ip, self.user_name)
        limit = self.source.max_message_size if self.source is not None else None
        self.data_size_limit = limit or self.state.default_max_size
        return self.config

    def cap_for(self, source: Source | None) -> tuple[str, int] | None:
        """What this session counts against with ``source`` in force: (key, cap), or None.

        A source's own ``max-smtp-in`` caps all its addresses together (0: no
        cap); without one, each client address may hold :data:`DEFAULT_MAX_SMTP_IN`.
        """
        if source is not None and source.max_smtp_in is not None:
            return (source.match, source.max_smtp_in) if source.max_smtp_in else None
        return f"address {self.ip}", DEFAULT_MAX_SMTP_IN

    def may_count(self, source: Source | None) -> bool:
        """Whether one more session fits the cap :meth:`cap_for` gives ``source``."""
        cap = self.cap_for(source)
        if cap is None or cap[0] == self.held:
            return True
        return self.state.per_source[cap[0]] < cap[1]

    def hold(self, source: Source | None) -> None:
        """Count this session against ``source`` (and no longer against the previous one)."""
        cap = self.cap_for(source)
        key = cap[0] if cap is not None else None
        if key == self.held:
            return
        self.release()
        if key is not None:
            self.state.per_source[key] += 1
        self.held = key

    def release(self) -> None:
        """Stop counting this session against its source."""
        if self.held is not None:
            self.state.per_source[self.held] -= 1
            if self.state.per_source[self.held] <= 0:
                del self.state.per_source[self.held]
            self.held = None

    def refuse(self, kind: RejectKind, reply: str, reason: str, **fields: str) -> str:
        """Count a refusal and write its reject-log row; return ``reply`` to send.

        ``fields`` may set ``rcpt``, ``command`` and ``auth_user`` (the attempted
        user after a failed AUTH); the rest comes from the session.
        """
        state = self.state
        state.rejected += 1
        session, envelope = self.session, self.envelope
        sender = envelope.mail_from if envelope is not None and envelope.mail_from else ""
        record = RejectRecord(
            time_logged=state.clock(),
            remote_ip=self.ip,
            remote_port=self.port,
            helo=printable(session.host_name or "") if session is not None else "",
            mail_from=printable(sender),
            rcpt=printable(fields.get("rcpt", "")),
            command=printable(fields.get("command", self.command), 600),
            reply=reply,
            reason=reason,
            auth_user=printable(fields.get("auth_user", self.user_name or ""), 100),
            listener=state.label,
        )
        log.info("refused %s from %s: %s (%s)", kind, self.ip, reply, reason)
        if state.reject_log is not None:
            try:
                state.reject_log.write(kind, record)
            except OSError as exc:  # a full disk must not take the listener down
                state.reject_failures.failed(exc)
            else:
                state.reject_failures.succeeded()
        return reply

    def shut_down(self) -> None:
        """Tell the client we are going away (421, RFC 5321 section 3.8) and close."""
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(f"{SHUTDOWN_REPLY}\r\n".encode())
            transport.close()

    # -- connection -----------------------------------------------------------------

    async def _handle_client(self) -> None:
        state = self.state
        # aiosmtpd types peer as str; it is the socket's (host, port, ...) tuple.
        peer: object = self.session.peer if self.session is not None else None
        if isinstance(peer, tuple):
            self.ip, self.port = str(peer[0]), int(peer[1])
        task = asyncio.current_task()
        if task is not None:
            state.tasks.add(task)
        state.sessions.add(self)
        gate, counted = state.gate, False
        try:
            config = self.refresh()
            decision = check_connect(config, self.ip)
            total = config.total_max_smtp_in
            if decision.ok and total and gate.open >= total:
                reason = reject_reason("total-max-smtp-in", f"{total} (all listeners)")
                decision = Decision(False, TOO_MANY_REPLY, reason)
            elif decision.ok and not self.may_count(self.source):
                key, cap = self.cap_for(self.source) or ("", 0)
                where = key if key.startswith("address ") else f"<source {key}>"
                decision = Decision(
                    False,
                    "421 4.7.0 Too many concurrent sessions from your address",
                    reject_reason("max-smtp-in", f"{cap} ({where})"),
                )
            if not decision.ok:
                await self.push(self.refuse("connect", decision.reply, decision.reason))
                if self.transport is not None:
                    self.transport.close()
                return
            gate.open += 1
            counted = True
            self.hold(self.source)
            await super()._handle_client()
        finally:
            if counted:
                gate.open -= 1
            self.release()
            state.sessions.discard(self)
            if task is not None:
                state.tasks.discard(task)

    async def refused_argument(self, arg: str, kind: RejectKind) -> bool:
        """Answer 501 (and log it) if ``arg`` has control characters or is not UTF-8."""
        reply = command_refusal(arg)
        if reply is None:
            return False
        why = reject_reason("control character or bad UTF-8 in the command")
        await self.push(self.refuse(kind, reply, why))
        return True

    async def push(self, status: AnyStr) -> None:
        """Send one reply line (remembered, so a refusal by aiosmtpd itself can be logged)."""
        self.last_reply = status if isinstance(status, str) else status.decode("utf-8", "replace")
        if self.auth_delay and self.last_reply.startswith("535"):
            # The failed-AUTH delay: aiosmtpd sends the 535 itself, after our (synchronous)
            # authenticator returned, so this is the one place to hold it back.
            delay, self.auth_delay = self.auth_delay, 0.0
            await asyncio.sleep(delay)
        await super().push(status)

    # -- commands we wrap -------------------------------------------------------------

    async def smtp_EHLO(self, hostname: str) -> None:  # noqa: N802 - aiosmtpd's name
        """EHLO, after a fresh config snapshot (SIZE advertises the current limit)."""
        self.refresh()
        self.command = f"EHLO {hostname}"
        if await self.refused_argument(hostname, "helo"):
            return
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str) -> None:  # noqa: N802 - aiosmtpd's name
        """HELO, after a fresh config snapshot."""
        self.refresh()
        self.command = f"HELO {hostname}"
        if await self.refused_argument(hostname, "helo"):
            return
        await super().smtp_HELO(hostname)

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's name
        """AUTH; the reject log sees only the mechanism, and repeated failures hang up."""
        # The initial response (credentials) is never kept: only the mechanism.
        self.command = f"AUTH {arg.split()[0]}" if arg and arg.split() else "AUTH"
        try:
            await super().smtp_AUTH(arg)
        except ValueError as exc:
            # A SASL response line past the stream's limit escapes aiosmtpd as an error
            # (a 451 and a logged traceback per try, anyone may send one): refuse it and
            # hang up, since the rest of that line is still on its way.
            if "limit" not in str(exc):
                raise
            reply = "500 5.5.6 Authentication exchange line is too long"
            await self.push(self.refuse("auth", reply, reject_reason("auth line too long")))
            if self.transport is not None:
                self.transport.close()
            return
        if self.user_name is not None:
            self.refresh()  # the user's named source may set another SIZE
        elif self.auth_locked:
            if self.transport is not None:
                self.transport.close()  # the 421 has been sent
        elif self.failed_auths >= MAX_AUTH_FAILURES:
            await self.push("421 4.7.0 Too many authentication failures")
            if self.transport is not None:
                self.transport.close()

    async def smtp_MAIL(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's name
        """MAIL: take out DSN parameters, check SIZE against the source, then aiosmtpd's."""
        if self.state.stopping:
            self.shut_down()
            return
        config = self.refresh()
        self.command = f"MAIL {arg or ''}".strip()
        self.pending_env_id = None
        if arg is not None and await self.refused_argument(arg, "mail"):
            return
        if arg is None or arg[:5].upper() != "FROM:":
            await super().smtp_MAIL(arg)
            return
        if await self.check_helo_needed():  # it has answered 503; aiosmtpd's would again
            return
        path, rest = split_path(arg[5:])
        params = parse_params(rest)
        if params.error is not None:
            await self.push(params.error)
            return
        if params.size is not None:
            decision = check_size(config, self.ip, self.user_name, params.size)
            if not decision.ok:
                await self.push(self.refuse("mail", decision.reply, decision.reason))
                return
        self.pending_env_id = params.env_id
        await super().smtp_MAIL(" ".join([f"FROM:{path}", *params.kept]))

    async def smtp_RCPT(self, arg: str | None) -> None:  # noqa: N802 - aiosmtpd's name
        """RCPT: take out DSN parameters (NOTIFY, ORCPT), then aiosmtpd's."""
        self.command = f"RCPT {arg or ''}".strip()
        if arg is not None and await self.refused_argument(arg, "rcpt"):
            return
        if arg is None or arg[:3].upper() != "TO:":
            await super().smtp_RCPT(arg)
            return
        path, rest = split_path(arg[3:])
        params = parse_params(rest)
        if params.error is not None:
            await self.push(params.error)
            return
        await super().smtp_RCPT(" ".join([f"TO:{path}", *params.kept]))

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's name
        """DATA; a message refused by aiosmtpd's size limit still gets a reject-log row."""
        self.command = "DATA"
        self.in_data, self.data_handled = True, False
        had_transaction = bool(self.envelope is not None and self.envelope.rcpt_tos)
        try:
            await self._data(arg)
        except Exception:
            # aiosmtpd answers it (handle_exception) but keeps the envelope: start afresh,
            # as after any DATA, so the client's next MAIL is not a "nested MAIL".
            self.envelope = Envelope()
            raise
        finally:
            self.in_data = False
        if had_transaction and not self.data_handled and self.last_reply.startswith("552"):
            limit = self.data_size_limit
            self.refuse(
                "data", self.last_reply, reject_reason("message larger than", f"{limit} bytes")
            )
        if self.state.stopping:
            self.shut_down()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser, with a fast path for the common ``<dot-atom@domain>``.

        aiosmtpd runs every MAIL/RCPT address through the e-mail header parser; a
        plain address (RFC 5321 Dot-string "@" Domain) gives the same result from
        one regex. Anything else (quoted local parts, ``<>``, UTF-8, source routes)
        still goes to aiosmtpd.
        """
        m = _PLAIN_PATH.match(arg)
        if m is not None and len(m.group(2)) <= (self.local_part_limit or 64):
            return m.group(1), m.group(3)
        result: tuple[str | None, str | None] = super()._getaddr(arg)
        return result

    async def _data(self, arg: str) -> None:
        """aiosmtpd's DATA with the fast reader (:mod:`mta.smtp_server.data`) in place of its
        line-by-line loop; the checks, hooks and replies are the same."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if self.envelope is None or not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        result = await read_data(self._reader, self.data_size_limit)
        if result.problem:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            if result.problem == "too-long":
                await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            else:
                await self.push("552 Error: Too much mail data")
            return
        self.envelope.content = self.envelope.original_content = result.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def smtp_RSET(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's name
        """RSET; during a stop, the end of a transaction is the moment to close."""
        await super().smtp_RSET(arg)
        if self.state.stopping:
            self.shut_down()

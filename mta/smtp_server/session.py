"""One inbound SMTP connection: the asyncio transport shell around the sans-IO core.

:class:`InboundSession` is an ``asyncio.Protocol``: it buffers what arrives,
feeds :class:`~mta.smtp_server.protocol.ServerCore`, and answers each event
through the policy of :mod:`mta.smtp_server.handler`, one at a time and in
order (pipelined commands wait in the core's buffer). Around that it keeps
the connection-level policy: the ``smtp-service`` and ``max-smtp-in`` checks
before the banner, the per-source config snapshot (taken at connect, EHLO,
AUTH and MAIL, so a reload applies from the next transaction), the idle
timeout, STARTTLS (``loop.start_tls``), backpressure (reading pauses while
the core holds more than :data:`HIGH_WATER` unread bytes) and a graceful stop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, cast

from mta.acct.rejectlog import RejectRecord, reject_reason
from mta.config.model import Config, Listener, Source
from mta.failurelog import FailureLog
from mta.smtp_server.authlimit import AuthLimiter
from mta.smtp_server.decisions import printable
from mta.smtp_server.protocol import Event, ServerCore
from mta.smtp_server.relay import Decision, check_connect, source_for

if TYPE_CHECKING:
    from mta.acct.rejectfile import RejectKind, RejectLogFile
    from mta.smtp_server.handler import InboundHandler
    from mta.smtp_server.listener import LocalMail
    from mta.submit import Submitter

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_SMTP_IN",
    "HIGH_WATER",
    "ConnectionGate",
    "InboundSession",
    "ListenerState",
]

log = logging.getLogger("mta.smtp_server.listener")

DEFAULT_MAX_MESSAGE_SIZE: Final = 32 << 20
"""SIZE when the source sets no ``max-message-size``: a message is held in memory."""

MAX_AUTH_FAILURES: Final = 3
"""Failed AUTH attempts per connection before we hang up (slows password guessing).

Across connections, :class:`mta.smtp_server.authlimit.AuthLimiter` delays each 535 and locks out."""

SHUTDOWN_REPLY: Final = "421 4.3.2 Service shutting down"
TOO_MANY_REPLY: Final = "421 4.7.0 Too many connections, try again later"

DEFAULT_MAX_SMTP_IN: Final = 100
"""Concurrent sessions from one client address when its ``<source>`` sets no ``max-smtp-in``."""

HIGH_WATER: Final = 256 << 10
"""Unread bytes in the core past which we stop reading the socket (resumed below a quarter)."""


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
    sessions: set[InboundSession] = field(default_factory=set)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)
    per_source: collections.Counter[str] = field(default_factory=collections.Counter)
    accepted: int = 0
    rejected: int = 0
    stopping: bool = False
    reject_failures: FailureLog = field(
        default_factory=lambda: FailureLog(log, "writing the reject log")
    )


class InboundSession(asyncio.Protocol):
    """One inbound connection (one instance per connection, made by ``loop.create_server``)."""

    def __init__(
        self,
        state: ListenerState,
        handler: InboundHandler,
        *,
        tls_context: ssl.SSLContext | None,
        auth_mechanisms: frozenset[str],
        timeout: float = 300,
    ) -> None:
        self.state = state
        self.handler = handler
        self.tls_context = tls_context
        self.timeout = timeout
        self.core = ServerCore(auth_mechanisms=auth_mechanisms)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.ip = "unknown"
        self.port: int | None = None
        self.config: Config = state.get_config()
        self.source: Source | None = None  # the <source> in force (the user's, after AUTH)
        self.held: str | None = None  # the source this connection counts against
        self.command = ""  # the command being answered, for the reject log
        self.env_id: str | None = None
        self.local_rcpts: set[str] = set()
        self.user_name: str | None = None  # the authenticated user name
        self.failed_auths = 0
        self.auth_delay = 0.0  # wait this long before the next 535 (the AUTH limiter's verdict)
        self.auth_locked = False  # the AUTH limiter locked us out: hang up after the reply
        self.sasl: list[bytes] = []  # the SASL exchange so far (LOGIN: the user name)
        self.mechanism = ""
        self._counted = False
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._active = 0.0  # loop time of the last command
        self._paused = False
        self._eof = False
        self._writable: asyncio.Future[None] | None = None
        self.done: asyncio.Future[None] = self.loop.create_future()

    # -- state ------------------------------------------------------------------------

    @property
    def data_size_limit(self) -> int:
        """The message size in force (the source's ``max-message-size``, or the default)."""
        return self.core.data_size_limit or self.state.default_max_size

    @property
    def busy(self) -> bool:
        """In a mail transaction (MAIL accepted, or DATA being received or submitted)."""
        return self.core.state in ("mail", "rcpt", "data")  # until the end of DATA is answered

    def refresh(self) -> Config:
        """Take a fresh config snapshot and recompute the source in force and its SIZE."""
        self.config = self.state.get_config()
        self.source = source_for(self.config, self.ip, self.user_name)
        limit = self.source.max_message_size if self.source is not None else None
        self.core.data_size_limit = limit or self.state.default_max_size
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
        core = self.core
        record = RejectRecord(
            time_logged=state.clock(),
            remote_ip=self.ip,
            remote_port=self.port,
            helo=printable(core.host_name or ""),
            mail_from=printable(core.envelope.mail_from or ""),
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

    # -- writing ----------------------------------------------------------------------

    def reply(self, reply: str | list[str]) -> None:
        """Answer the pending event with ``reply`` (one line or a multi-line reply)."""
        data = self.core.send(reply)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        """Hang up (after what was written is flushed)."""
        self.core.close()
        if self.transport is not None:
            self.transport.close()

    def shut_down(self) -> None:
        """Tell the client we are going away (421, RFC 5321 section 3.8) and close."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(f"{SHUTDOWN_REPLY}\r\n".encode())
            self.close()

    def pause_writing(self) -> None:
        """The socket's send buffer is full: hold further replies."""
        if self._writable is None:
            self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        """The send buffer drained: go on."""
        if self._writable is not None:
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None

    # -- connection -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Check the connection-level policy, then greet (or refuse with 421 and close)."""
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = transport = cast(asyncio.Transport, transport)
        state = self.state
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.ip, self.port = str(peer[0]), int(peer[1])
        state.tasks.add(self.done)
        state.sessions.add(self)
        config = self.refresh()
        decision = check_connect(config, self.ip)
        total = config.total_max_smtp_in
        if decision.ok and total and state.gate.open >= total:
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
            self.reply(self.refuse("connect", decision.reply, decision.reason))
            self.close()
            return
        state.gate.open += 1
        self._counted = True
        self.hold(self.source)
        self.reply(f"220 {state.hostname} ESMTP")
        self._reset_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop counting the session; a handler still running is cancelled."""
        self.core.close()
        self.transport = None
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._counted:
            self.state.gate.open -= 1
            self._counted = False
        self.release()
        self.state.sessions.discard(self)
        self.state.tasks.discard(self.done)
        if not self.done.done():
            self.done.set_result(None)
        self.resume_writing()

    def data_received(self, data: bytes) -> None:
        """Feed the core; answer what it makes of it (in a task, one event at a time)."""
        # Idle means no bytes (RFC 5321 section 4.5.3.2.6 times DATA between reads):
        # a big message on a slow link yields no event until its end, yet is not idle.
        self._active = self.loop.time()
        self.core.receive_data(data)
        if self.core.buffered > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool:
        """The client will send no more: answer what it sent, then close."""
        self._eof = True
        self._wake()
        # A TLS transport cannot stay half-open; a plain one can, until we are done.
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is None

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run())

    def _reset_timer(self) -> None:
        # One timestamp per event; the timer re-arms itself for the rest of the window,
        # so a busy session costs no timer churn.
        self._active = self.loop.time()
        if self._timer is None:
            self._timer = self.loop.call_later(self.timeout, self._timed_out)

    def _timed_out(self) -> None:
        idle = self.loop.time() - self._active
        if idle < self.timeout:
            self._timer = self.loop.call_later(self.timeout - idle, self._timed_out)
            return
        log.info("%s: connection timeout", self.ip)
        self.close()

    async def _run(self) -> None:
        core = self.core
        while self.transport is not None and not self.transport.is_closing():
            event = core.next_event()
            if event is None:
                break
            self._reset_timer()
            await self._handle(event)
            if self._writable is not None:
                await self._writable
        transport = self.transport
        if transport is None:
            return
        if self._paused and core.buffered < HIGH_WATER // 4:
            self._paused = False
            transport.resume_reading()
        if self._eof:  # everything the client sent is answered
            self.close()

    async def _handle(self, event: Event) -> None:
        if event.command:
            self.command = event.command
        try:
            await self.handler.handle(self, event)
        except Exception as error:  # a bug in a hook: the client may retry, the session goes on
            if not self.core.pending:  # answered already: only log it
                log.error("SMTP listener error after the reply", exc_info=error)
                return
            self.reply(await self.handler.handle_exception(error))

    async def start_tls(self) -> None:
        """Answer STARTTLS with 220 and run the server side of the TLS handshake."""
        transport = self.transport
        if self.tls_context is None or transport is None:
            self.reply("454 TLS not available")
            return
        self.reply("220 Ready to start TLS")
        try:
            tls = await self.loop.start_tls(transport, self, self.tls_context, server_side=True)
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            log.info("%s: TLS handshake failed: %s", self.ip, exc)
            transport.close()
            return
        if tls is None:
            transport.close()
            return
        self.transport = tls
        self._paused = False
        self.core.tls_started()
        self.user_name = None
        self.refresh()

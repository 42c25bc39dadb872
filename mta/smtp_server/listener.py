"""The SMTP inbound listener: how applications and returned mail reach the embedded MTA.

::

    listener = SmtpListener(lambda: mta.config, cfg.listeners[0], mta, reject_log=rejects)
    await listener.start()          # binds; listener.port is the real port
    ...
    await listener.stop()           # stop accepting, let transactions finish, 421 the rest

The protocol is our own sans-IO core (:mod:`mta.smtp_server.protocol`) in a
thin asyncio transport (one :class:`~mta.smtp_server.session.InboundSession`
per connection, made by ``loop.create_server``); the policy: the
``<source>`` rules of :mod:`mta.smtp_server.relay`, SMTP AUTH against ``<smtp-user>``,
the control headers, and a 250 only after :meth:`Submitter.submit` returned
(the spool has fsynced). ``get_config`` is called at connect, EHLO, AUTH and
MAIL, so a reload applies from the next transaction on. See
docs/smtp-listener.md for what is advertised, the policy order and the replies.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from mta.acct.rejectfile import RejectLogFile
from mta.config.model import Config, Listener
from mta.errors import ConfigError
from mta.fdlimit import raise_open_file_limit, wanted_open_files
from mta.smtp_server.authlimit import AuthLimiter
from mta.smtp_server.handler import InboundHandler
from mta.smtp_server.session import (
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MAX_SMTP_IN,
    ConnectionGate,
    InboundSession,
    ListenerState,
    utcnow,
)
from mta.status import ListenerStatus
from mta.submit import Submitter
from mta.tls import make_self_signed, server_context

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_SMTP_IN",
    "AuthLimiter",
    "ConnectionGate",
    "LocalMail",
    "SmtpListener",
]

_MECHANISMS = frozenset({"PLAIN", "LOGIN"})  # what the handler implements


class LocalMail(Protocol):
    """Mail for us, not for relaying: bounces and feedback reports to our own addresses.

    A recipient for which :meth:`is_local` is true is accepted without the relay
    check, and the message is handed to :meth:`consume` instead of the spool.
    """

    def is_local(self, rcpt: str) -> bool:
        """Whether ``rcpt`` is one of our own (bounce/FBL) addresses."""
        ...

    async def consume(
        self, raw: bytes, sender: str, recipients: tuple[str, ...], peer_ip: str
    ) -> None:
        """Take a returned message; raise :class:`mta.errors.LocalError` to answer 451."""
        ...


class SmtpListener:
    """One SMTP listener (``smtp-listener`` / ``<smtp-listener>``) on asyncio.

    ``suppressed(rcpt, sender)`` names why a recipient is on the suppression list (or
    returns None); with ``suppressed-recipients reject`` such a RCPT is refused.
    ``tls`` overrides the listener's ``tls-certificate``/``tls-private-key``;
    without either, STARTTLS uses a self-signed certificate made at start.
    ``hostname`` (banner, EHLO, Received) defaults to the config's ``host-name``.
    ``gate`` counts sessions for ``total-max-smtp-in`` and ``auth_limiter`` failed
    AUTH attempts: pass the same ones to every listener of a process (each
    listener makes its own otherwise).
    """

    def __init__(
        self,
        get_config: Callable[[], Config],
        listener: Listener,
        submitter: Submitter,
        *,
        reject_log: RejectLogFile | None = None,
        local: LocalMail | None = None,
        suppressed: Callable[[str, str], str | None] | None = None,
        storage: Callable[[], str | None] | None = None,
        hostname: str | None = None,
        tls: ssl.SSLContext | None = None,
        idle_timeout: float = 300,
        default_max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        clock: Callable[[], datetime] = utcnow,
        base: Path | None = None,
        gate: ConnectionGate | None = None,
        auth_limiter: AuthLimiter | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        name = hostname or get_config().host_name or socket.gethostname()
        self.listener = listener
        self.host = listener.address.host
        self.port = listener.address.port if listener.address.port is not None else 25
        self._tls = tls
        self._idle_timeout = idle_timeout
        self._state = ListenerState(
            get_config,
            listener,
            submitter,
            name,
            reject_log=reject_log,
            local=local,
            suppressed=suppressed,
            storage=storage,
            clock=clock,
            default_max_size=default_max_message_size,
            auth_limiter=AuthLimiter() if auth_limiter is None else auth_limiter,
            gate=ConnectionGate() if gate is None else gate,
        )
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._base = base  # relative tls-certificate/-private-key paths start here
        self._sock = sock  # bound and listening already (shared by the smtp-workers processes)

    @property
    def hostname(self) -> str:
        """The name we greet with and write in Received."""
        return self._state.hostname

    def _tls_context(self) -> ssl.SSLContext | None:
        listener = self.listener
        if not (listener.tls_certificate and listener.tls_private_key):
            return None
        cert, key = Path(listener.tls_certificate), Path(listener.tls_private_key)
        if self._base is not None:  # like domain-key: relative to the config file
            cert, key = (p if p.is_absolute() else self._base / p for p in (cert, key))
        try:
            return server_context(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            where = listener.where
            raise ConfigError(
                f"cannot load tls-certificate/tls-private-key: {exc}",
                path=where.path,
                line=where.line,
                section=f"smtp-listener {listener.address}",
            ) from exc

    async def start(self) -> None:
        """Raise the open-file limit for ``total-max-smtp-in``, load or make the TLS identity,
        bind, and start serving."""
        raise_open_file_limit(wanted_open_files(self._state.get_config().total_max_smtp_in))
        loop = asyncio.get_running_loop()
        tls = self._tls or self._tls_context()
        if tls is None:
            cert = await asyncio.to_thread(make_self_signed, self.hostname)
            tls = cert.server_context()
        state = self._state
        handler = InboundHandler()
        mechanisms = _MECHANISMS & set(self.listener.auth_mechanisms)

        def factory() -> InboundSession:
            return InboundSession(
                state,
                handler,
                tls_context=tls,
                auth_mechanisms=mechanisms,
                timeout=self._idle_timeout,
            )

        if self._sock is not None:
            self._server = await loop.create_server(factory, sock=self._sock)
        else:
            self._server = await loop.create_server(factory, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        state.label = f"{self.host}:{self.port}"

    async def stop(self, timeout: float = 30) -> None:
        """Stop accepting; let transactions in flight finish (up to ``timeout``); close all.

        Idle sessions get ``421 4.3.2`` at once; a session in a transaction gets
        it after its DATA (or RSET) is answered, or when ``timeout`` runs out.
        Calling it again (or concurrently) waits for the same stop.
        """
        if self._stopping is None:
            if self._server is None:
                return
            self._stopping = asyncio.ensure_future(self._stop(self._server, timeout))
        await asyncio.shield(self._stopping)

    async def _stop(self, server: asyncio.Server, timeout: float) -> None:
        state = self._state
        server.close()
        state.stopping = True
        for conn in list(state.sessions):
            if not conn.busy:
                conn.shut_down()
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=timeout)
        for conn in list(state.sessions):
            conn.shut_down()
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=5)
        await server.wait_closed()
        self._server = None

    def stats(self) -> ListenerStatus:
        """Open connections, messages accepted and commands refused since start."""
        state = self._state
        return ListenerStatus(
            address=self.host,
            port=self.port,
            connections=len(state.sessions),
            accepted=state.accepted,
            rejected=state.rejected,
        )

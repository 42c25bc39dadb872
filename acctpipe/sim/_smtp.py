"""The aiosmtpd glue: one SMTP protocol per connection, deciding through :class:`IspPolicy`.

Connection-level behaviour (refusal instead of the banner, slow banners, hanging up
after N commands, closing after a 421) lives in :class:`SimSMTP`; per-command
decisions are aiosmtpd handler hooks in :class:`SimHandler`. Both report to the
shared :class:`SimState`.

aiosmtpd has no public hook before the banner or around each command, so
:class:`SimSMTP` extends two of its internals, ``_handle_client`` and the
``_smtp_methods`` dispatch table (stable across aiosmtpd 1.4.x); the socket tests
in ``tests/acctpipe/sim`` fail loudly if a release changes them.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from acctpipe.sim.counters import Counters
from acctpipe.sim.mailbox import MessageStore, ReceivedMessage
from acctpipe.sim.policy import IspPolicy
from acctpipe.sim.profile import IspProfile, render_reply

__all__ = ["SimHandler", "SimSMTP", "SimState"]


@dataclass(slots=True)
class SimState:
    """What every connection of one simulator shares."""

    profile: IspProfile
    policy: IspPolicy
    counters: Counters
    store: MessageStore
    clock: Callable[[], float] = time.monotonic
    sessions: set[SimSMTP] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


def _peer_ip(session: Session | None) -> str:
    peer = session.peer if session is not None else None
    return str(peer[0]) if isinstance(peer, tuple) else "unknown"


class SimHandler:
    """aiosmtpd handler hooks: EHLO extensions, MAIL/RCPT decisions, DATA acceptance."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Advertise PIPELINING; no AUTH (a receiving MX does not offer it)."""
        session.host_name = hostname
        lines = [r for r in responses if not r[4:].startswith("AUTH")]
        lines.insert(len(lines) - 1, "250-PIPELINING")
        return lines

    def handle_STARTTLS(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> bool:
        """Count the completed TLS handshake."""
        self.state.counters.tls(_peer_ip(session))
        return True

    def _refuse(self, server: SMTP, session: Session, reply: str) -> str:
        self.state.counters.rejected(_peer_ip(session), reply)
        if reply.startswith("421") and isinstance(server, SimSMTP):
            server.close_after_reply = True
        return reply

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Apply the per-IP message rate, else take the sender."""
        reply = self.state.policy.mail(_peer_ip(session), address, self.state.clock())
        if reply is not None:
            return self._refuse(server, session, reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Refuse blocked clients, unknown users, full mailboxes, greylisted triplets."""
        ip = _peer_ip(session)
        reply = self.state.policy.rcpt(ip, envelope.mail_from or "", address, self.state.clock())
        if reply is not None:
            return self._refuse(server, session, reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Keep the message, count it, and answer with the profile's 250 and a queue id."""
        state = self.state
        if state.profile.data_delay:
            await asyncio.sleep(state.profile.data_delay)
        ip = _peer_ip(session)
        refusal = state.policy.data(ip, envelope.mail_from or "", list(envelope.rcpt_tos))
        if refusal is not None:
            return self._refuse(server, session, refusal)
        queue_id = secrets.token_hex(6).upper()
        content = envelope.original_content or b""
        message = ReceivedMessage(
            queue_id,
            ip,
            "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from),
            tuple(envelope.rcpt_tos),
            content,
            time.time(),
            session.ssl is not None,
        )
        state.store.add(message, state.profile.hostname)
        state.counters.accepted(ip, len(envelope.rcpt_tos), state.clock())
        return render_reply(
            state.profile.replies.accepted,
            queue_id=queue_id,
            ip=ip,
            sender=message.mail_from,
            hostname=state.profile.hostname,
            timestamp=int(message.received_at),
        )


class SimSMTP(SMTP):
    """aiosmtpd's SMTP with connection-level ISP behaviour (one instance per connection)."""

    def __init__(self, state: SimState, **kwargs: Any) -> None:
        super().__init__(SimHandler(state), **kwargs)
        self.state = state
        self.close_after_reply = False
        self._commands = 0
        # aiosmtpd dispatches through this table; wrap each command to count it,
        # inject hang-ups, and close after a 421 (RFC 5321 §3.8).
        self._smtp_methods = {
            name: self._wrap(method) for name, method in self._smtp_methods.items()
        }

    def _wrap(self, method: Callable[[str | None], Awaitable[None]]) -> Any:
        @functools.wraps(method)
        async def run(arg: str | None) -> None:
            self._commands += 1
            if self.state.policy.should_drop(self._commands):
                self.state.counters.dropped(_peer_ip(self.session))
                self.hang_up()
                return
            await method(arg)
            if self.close_after_reply:
                self.hang_up()

        return run

    def hang_up(self) -> None:
        """Close this connection now, without a reply."""
        if self.transport is not None:
            self.transport.close()

    async def _handle_client(self) -> None:
        state = self.state
        ip = _peer_ip(self.session)
        task = asyncio.current_task()
        if task is not None:
            state.tasks.add(task)
        state.sessions.add(self)
        state.counters.opened(ip)
        refusal = state.policy.connect(ip, state.clock())
        try:
            if refusal is not None:
                state.counters.rejected(ip, refusal)
                await self.push(refusal)
                self.hang_up()
                return
            if state.profile.banner_delay:
                await asyncio.sleep(state.profile.banner_delay)
            await super()._handle_client()
        finally:
            state.policy.disconnect(ip)
            state.counters.closed(ip)
            state.sessions.discard(self)
            if task is not None:
                state.tasks.discard(task)

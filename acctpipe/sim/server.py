"""Run a simulated ISP on loopback: an async context manager and a thread-based variant.

::

    async with IspSimulator("gmail") as sim:        # binds 127.0.0.1:0
        ...  # send to ("127.0.0.1", sim.port)
        assert sim.counters.for_ip("127.0.0.2").max_concurrent <= 10

    with ThreadedIspSimulator("yahoo") as sim:      # for synchronous tests
        ...
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from acctpipe.sim._loopback import require_loopback
from acctpipe.sim._smtp import SimSMTP, SimState
from acctpipe.sim.counters import Counters
from acctpipe.sim.mailbox import MessageStore, ReceivedMessage
from acctpipe.sim.policy import IspPolicy
from acctpipe.sim.profile import IspProfile
from acctpipe.sim.profiles import load_profile
from acctpipe.sim.reports import make_arf, make_dsn
from acctpipe.sim.sender import send_report
from acctpipe.sim.tls import SelfSignedCert, make_self_signed

__all__ = ["IspSimulator", "ThreadedIspSimulator"]


class IspSimulator:
    """One simulated receiver listening on a loopback address.

    ``port=0`` binds a free port; :attr:`port` is the real one once started.
    ``report_to`` (host, port) is where :meth:`send_dsn` / :meth:`send_arf` deliver.
    """

    def __init__(
        self,
        profile: IspProfile | str = "default",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep: int = 1000,
        maildir: Path | None = None,
        report_to: tuple[str, int] | None = None,
    ) -> None:
        require_loopback(host)
        if report_to is not None:
            require_loopback(report_to[0])
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.host = host
        self.port = port
        self.report_to = report_to
        self.counters = Counters()
        self.store = MessageStore(keep, maildir)
        self.cert: SelfSignedCert | None = None
        self._state = SimState(self.profile, IspPolicy(self.profile), self.counters, self.store)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Generate the TLS certificate (if STARTTLS is on), bind, and start serving."""
        loop = asyncio.get_running_loop()
        profile = self.profile
        tls = None
        if profile.starttls:
            self.cert = await asyncio.to_thread(make_self_signed, profile.hostname)
            tls = self.cert.server_context()

        def factory() -> SimSMTP:
            return SimSMTP(
                self._state,
                hostname=profile.hostname,
                ident=profile.replies.banner,
                tls_context=tls,
                data_size_limit=profile.max_message_size,
                enable_SMTPUTF8=True,
                timeout=60,
                loop=loop,
            )

        self._server = await loop.create_server(factory, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, hang up on every client, and wait for their sessions to end."""
        if self._server is None:
            return
        self._server.close()
        for session in list(self._state.sessions):
            session.hang_up()
        tasks = list(self._state.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The accepted messages kept in memory, oldest first."""
        return self.store.messages()

    def _target(self) -> tuple[str, int]:
        if self.report_to is None:
            # A caller bug, not input (a plain ValueError): only one with report_to sends.
            raise ValueError("no report_to address configured for this simulator")
        return self.report_to

    async def send_dsn(
        self, message: ReceivedMessage, recipient: str, reply: str, *, include_body: bool = False
    ) -> str:
        """Bounce ``message`` for ``recipient`` with ``reply``, to its envelope sender."""
        host, port = self._target()
        data = make_dsn(
            message.data,
            recipient=recipient,
            reply=reply,
            reporting_mta=self.profile.hostname,
            to_addr=message.mail_from,
            date=datetime.now(UTC),
            include_body=include_body,
        )
        return await send_report(
            data, host=host, port=port, rcpt_to=message.mail_from, helo=self.profile.hostname
        )

    async def send_arf(
        self, message: ReceivedMessage, fbl_address: str, *, redact: bool = True
    ) -> str:
        """Report ``message`` as spam (ARF ``abuse``) to ``fbl_address``.

        With ``redact`` (the default, as Yahoo and AOL do) the recipient is left out.
        """
        host, port = self._target()
        domain = self.profile.hostname.removeprefix("mx.")
        data = make_arf(
            message.data,
            reporting_domain=domain,
            to_addr=fbl_address,
            date=datetime.now(UTC),
            original_mail_from=message.mail_from,
            original_rcpt_to="" if redact else message.rcpt_tos[0],
            source_ip=message.peer_ip,
        )
        return await send_report(
            data, host=host, port=port, rcpt_to=fbl_address, helo=self.profile.hostname
        )


class ThreadedIspSimulator:
    """An :class:`IspSimulator` on its own event loop in a daemon thread (for sync tests)."""

    def __init__(
        self,
        profile: IspProfile | str = "default",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep: int = 1000,
        maildir: Path | None = None,
    ) -> None:
        self.sim = IspSimulator(profile, host=host, port=port, keep=keep, maildir=maildir)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop thread and the simulator; return once it listens."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="isp-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        asyncio.run_coroutine_threadsafe(self.sim.start(), loop).result(timeout=30)

    def stop(self) -> None:
        """Stop the simulator, its loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.sim.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the simulator listens on."""
        return self.sim.port

    @property
    def counters(self) -> Counters:
        """The live per-IP counters (thread-safe)."""
        return self.sim.counters

    @property
    def messages(self) -> list[ReceivedMessage]:
        """The accepted messages kept in memory, oldest first (thread-safe)."""
        return self.sim.messages

"""What the listener tests share: a config, a real spool behind a tiny Submitter, a client.

Every listener test runs a real :class:`SmtpListener` on ``127.0.0.1:0`` and talks
to it with aiosmtplib bound to a chosen loopback source address (127.0.0.1 may
relay, 127.0.0.2 may not, …), so the source rules see a real peer address.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiosmtplib

from mta.acct.rejectfile import RejectLogFile
from mta.acct.rejectlog import RejectLogDecoder, RejectRecord, RejectRow
from mta.config import parse_config_text
from mta.config.model import Config
from mta.config.values import Address
from mta.errors import LocalError
from mta.smtp_server.listener import SmtpListener
from mta.spool.durable import Envelope, Spool
from mta.submit import Submission
from mta.tls import SelfSignedCert, make_self_signed

P = ParamSpec("P")
T = TypeVar("T")

TEST_TIMEOUT = 60.0  # a whole test; each client command has its own 10 s bound

CONFIG = """
host-name mta.test
smtp-listener 127.0.0.1:2525
<virtual-mta ip-1>
    smtp-source-host 127.0.0.2 mta1.test
</virtual-mta>
<virtual-mta ip-2>
    smtp-source-host 127.0.0.3 mta2.test
</virtual-mta>
<virtual-mta-pool pool-a>
    virtual-mta ip-1
    virtual-mta ip-2
</virtual-mta-pool>
<source 127.0.0.1>
    always-allow-relaying yes
    process-x-virtual-mta yes
    process-x-job yes
    default-virtual-mta ip-1
    max-message-size 20K
</source>
<source 127.0.0.3>
    smtp-service no
</source>
<source 127.0.0.4>
    always-allow-relaying yes
    max-smtp-in 1
</source>
<source 127.0.0.5>
    always-allow-relaying yes
    require-auth yes
</source>
<source {auth}>
    always-allow-relaying yes
    default-virtual-mta pool-a
</source>
<source 0/0>
    always-allow-relaying no
</source>
<smtp-user app>
    password "s3cret#with-hash"
    source {auth}
</smtp-user>
<rejectlog-file reject.csv>
</rejectlog-file>
"""

PASSWORD = "s3cret#with-hash"  # a test credential

MESSAGE = (
    b"From: App <app@example.test>\r\nTo: bob@example.net\r\nSubject: hello\r\n"
    b"Message-ID: <m1@example.test>\r\n\r\nHello Bob.\r\n"
)


def bounded(test: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run an async test under one overall timeout, so a hang fails instead of stalling CI."""

    @functools.wraps(test)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT)

    return run


@functools.cache
def shared_cert() -> SelfSignedCert:
    """One self-signed certificate for 127.0.0.1, shared by the TLS tests."""
    return make_self_signed("mta.test")


def parse(text: str = CONFIG) -> Config:
    """The test configuration, parsed by the real parser."""
    return parse_config_text(text, "test.conf")


@dataclass
class SpoolSubmitter:
    """A Submitter over a real :class:`Spool`: what the running MTA does, minus delivery."""

    spool: Spool
    failing: bool = False
    submissions: list[Submission] = field(default_factory=list)

    async def submit(self, submission: Submission) -> list[str]:
        """Spool the message (fsync + rename) on a worker thread; return its id."""
        if self.failing:
            raise LocalError("cannot spool the message: No space left on device")
        self.submissions.append(submission)
        extra = {
            "env_id": submission.env_id,
            "source_ip": submission.source_ip,
            "auth_user": submission.auth_user,
            "source": submission.source,
        }
        envelope = Envelope(
            submission.sender,
            list(submission.recipients),
            vmta=submission.vmta,
            job_id=submission.job_id,
            extra={k: v for k, v in extra.items() if v},
        )
        return [await asyncio.to_thread(self.spool.accept, submission.raw, envelope)]


@dataclass
class LocalSink:
    """A LocalMail that owns ``bounces@mta.test`` and keeps what it consumes."""

    consumed: list[tuple[bytes, str, tuple[str, ...], str]] = field(default_factory=list)

    def is_local(self, rcpt: str) -> bool:
        """Our bounce address only."""
        return rcpt.lower() == "bounces@mta.test"

    async def consume(
        self, raw: bytes, sender: str, recipients: tuple[str, ...], peer_ip: str
    ) -> None:
        """Keep the returned message."""
        self.consumed.append((raw, sender, recipients, peer_ip))


@dataclass
class Running:
    """A started listener and what is behind it."""

    listener: SmtpListener
    spool: Spool
    submitter: SpoolSubmitter
    reject_path: Path
    config: list[Config]

    @property
    def port(self) -> int:
        """The real port."""
        return self.listener.port

    def rejects(self) -> list[RejectRecord]:
        """The reject-log rows written so far."""
        if not self.reject_path.exists():
            return []
        decoder = RejectLogDecoder()
        events = decoder.feed(self.reject_path.read_bytes()) + decoder.close()
        return [e.record for e in events if isinstance(e, RejectRow)]

    def spooled(self) -> list[tuple[bytes, Envelope]]:
        """The messages in ``incoming/``, oldest first."""
        return [self.spool.read("incoming", i) for i in self.spool.ids("incoming")]


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, text: str = CONFIG, *, listener_index: int = 0, **kwargs: Any
) -> AsyncIterator[Running]:
    """Start a listener for ``text`` on 127.0.0.1:0 with a spool and reject log in tmp_path."""
    config = parse(text)
    holder = [config]
    listener = dataclasses.replace(
        config.listeners[listener_index], address=Address("127.0.0.1", 0)
    )
    spool = Spool(tmp_path / "spool")
    submitter = SpoolSubmitter(spool)
    reject_log = RejectLogFile(config.reject_logs[0], tmp_path)
    kwargs.setdefault("tls", shared_cert().server_context())
    server = SmtpListener(lambda: holder[0], listener, submitter, reject_log=reject_log, **kwargs)
    await server.start()
    try:
        yield Running(server, spool, submitter, reject_log.path, holder)
    finally:
        await server.stop(timeout=5)
        reject_log.close()


def client(port: int, source: str = "127.0.0.1", *, timeout: float = 10) -> aiosmtplib.SMTP:
    """An aiosmtplib client bound to the loopback alias ``source`` (the peer IP we see)."""
    return aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        source_address=(source, 0),
        local_hostname="client.test",
        start_tls=False,
        timeout=timeout,
    )


def client_tls() -> ssl.SSLContext:
    """A client context trusting the test certificate."""
    return shared_cert().client_context()


@dataclass
class RawClient:
    """A line-level SMTP client that sends bytes exactly as given (aiosmtplib refuses
    control characters, which is what some tests must send)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def reply(self) -> tuple[int, str]:
        """Read one (possibly multi-line) reply: its code and the text of its last line."""
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 10)
            if not line:
                return 0, ""  # the server hung up
            if line[3:4] != b"-":
                return int(line[:3]), line[4:].decode("utf-8", "replace").strip()

    async def send(self, line: bytes) -> tuple[int, str]:
        """Send ``line`` + CRLF and read the reply."""
        self.writer.write(line + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


async def raw_client(port: int, source: str = "127.0.0.1") -> RawClient:
    """Connect from ``source`` and read the banner (its reply is not checked)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    raw = RawClient(reader, writer)
    await raw.reply()
    return raw

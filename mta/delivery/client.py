"""The outbound SMTP connection: a small client on an asyncio protocol; failures are replies.

One :class:`Connection` is one session to one receiving host, reused for up to
``max-msg-per-connection`` messages. Hosts are tried in order until one greets
us; the source address is bound when the vmta has an ``smtp-source-host``.
STARTTLS is opportunistic (used when offered) or required (no session without
it); certificates are not verified, as is usual between MTAs (RFC 7435:
opportunistic security).

The client is our own rather than aiosmtplib's because the delivery side is
CPU-bound under relay load, and most of that library's cost per message went
on work already done: re-parsing addresses the listener validated (twice per
address), rewriting the body's line endings twice, one round trip per command.
Here the envelope goes out as preformatted lines, pipelined in one write when
the receiver offers PIPELINING (RFC 2920); the body is sent in its wire form
with the dot-stuffing done by one ``bytes.replace`` when it is already CRLF.

Nothing here raises for a receiver's behaviour: a refused connection, a 421
greeting, a timeout, a malformed reply or a dropped line all come back as
replies the engine accounts for.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mta.config.values import Address
from mta.delivery.attempt import NO_ANSWER, Reply

__all__ = ["Connection", "OpenFailure", "SendResult", "TlsMode", "open_connection", "wire_form"]

TlsMode = Literal["no", "opportunistic", "required"]

_MAX_LINE = 8192  # one reply line
_MAX_REPLY = _MAX_LINE * 4  # a whole (multiline) reply: bounds what a broken peer costs us
_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_QUIT_TIMEOUT = 5.0


class _LostError(Exception):
    """The session is unusable: hung up, timed out, or the peer spoke something not SMTP."""


class _Wire(asyncio.Protocol):
    """Bytes in, replies out: a queue of parsed replies, so pipelined answers are never lost."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._lines: list[str] = []  # the reply being read, line by line
        self._size = 0
        self._replies: collections.deque[Reply] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        self.error: str = ""  # why the session ended, once it has

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.error:
            return
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            line = bytes(buffer[start : end + 1])
            start = end + 1
            if len(line) > _MAX_LINE or not line[:3].isdigit():
                self._fail("the receiver sent a malformed reply line")
                return
            self._lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
            self._size += len(line)
            if line[3:4] != b"-":
                self._replies.append(Reply(int(line[:3]), "\n".join(self._lines)))
                self._lines = []
                self._size = 0
            elif self._size > _MAX_REPLY:
                self._fail("the receiver sent a reply too long")
                return
        if start:
            del buffer[:start]
        if len(buffer) > _MAX_LINE:
            self._fail("the receiver sent a reply line too long")
            return
        if self._replies:
            self._wake()

    def eof_received(self) -> bool:
        self._fail("the receiver hung up")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "the receiver hung up")
        self.transport = None
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # for the session

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing() and not self.error

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, why: str) -> None:
        if not self.error:
            self.error = why
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def write(self, data: bytes) -> None:
        if not self.is_open:
            raise _LostError(self.error or "the connection is closed")
        assert self.transport is not None
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the socket's send buffer is full (a large message to a slow reader)."""
        if self._paused and self.is_open:
            self._drain = self._loop.create_future()
            await self._drain

    async def read(self) -> Reply:
        """The next reply (the caller bounds the wait)."""
        while not self._replies:
            if self.error:
                raise _LostError(self.error)
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()

    def start_tls_reset(self) -> None:
        # RFC 3207 4.2: nothing the receiver sent in clear before the handshake counts.
        self._buffer.clear()
        self._lines = []
        self._replies.clear()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def wire_form(raw: bytes) -> bytes:
    """``raw`` as DATA sends it: CRLF line endings, leading dots doubled, ``.`` line ending it."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") != crlf or raw.count(b"\r") != crlf:
        raw = _LINE_ENDINGS.sub(b"\r\n", raw)  # bare LF or CR: rare, the slow way
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw.replace(b"\n.", b"\n..") + b".\r\n"


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

    wire: _Wire
    host: str
    port: int
    source_ip: str
    tls: bool
    esmtp: bool
    sent: int = 0
    extensions: frozenset[str] = field(default_factory=frozenset)
    pipelining: bool = False  # offered by the receiver and allowed by smtp-pipelining

    async def send(
        self, sender: str, recipients: Sequence[str], raw: bytes, *, timeout: float
    ) -> SendResult:
        """MAIL, RCPT for each recipient, DATA; every recipient gets a reply."""
        extensions = self.extensions
        wide = not (sender.isascii() and all(a.isascii() for a in recipients))
        if wide and "smtputf8" not in extensions:
            reply = Reply(553, "5.6.7 the receiver does not support SMTPUTF8 addresses")
            return SendResult(dict.fromkeys(recipients, reply))
        mail = f"MAIL FROM:<{sender}>"
        if "size" in extensions:
            mail += f" SIZE={len(raw)}"
        if "8bitmime" in extensions and not raw.isascii():
            mail += " BODY=8BITMIME"
        if wide:
            mail += " SMTPUTF8"
        commands = [mail, *(f"RCPT TO:<{r}>" for r in recipients), "DATA"]
        lines = [c.encode() + b"\r\n" for c in commands]
        if any(b"\r" in c[:-2] or b"\n" in c[:-2] or b"\0" in c for c in lines):
            reply = Reply(553, "5.1.3 an address contains a line break or NUL")
            return SendResult(dict.fromkeys(recipients, reply))
        self.sent += 1
        wire = self.wire
        try:
            async with asyncio.timeout(timeout):
                return await self._transact(wire, recipients, lines, raw)
        except (_LostError, OSError, TimeoutError) as exc:
            wire.close()
            why = str(exc) or "timed out waiting for the receiver"
            reply = NO_ANSWER(f"connection to {self.host} lost: {why}")
            return SendResult(dict.fromkeys(recipients, reply), closed=True)

    async def _transact(
        self, wire: _Wire, recipients: Sequence[str], lines: list[bytes], raw: bytes
    ) -> SendResult:
        pipelining = self.pipelining
        if pipelining:
            wire.write(b"".join(lines))
        else:
            wire.write(lines[0])
        mail = await wire.read()
        refused: dict[str, Reply] = {}
        accepted: list[str] = []
        if mail.code // 100 != 2:
            # Refused sender: every recipient gets its reply. Pipelined RCPTs and DATA
            # were answered too (503s); read them to keep the session in step.
            replies = dict.fromkeys(recipients, mail)
            if pipelining and mail.code != 421:
                try:
                    for _ in lines[1:]:
                        last = await wire.read()
                    if last.code == 354:  # should not happen: end an empty message
                        wire.write(b".\r\n")
                        await wire.read()
                except _LostError:
                    return SendResult(replies, closed=True)
            return await self._failed(wire, replies)
        for recipient, line in zip(recipients, lines[1:-1], strict=True):
            if not pipelining:
                wire.write(line)
            reply = await wire.read()
            if reply.code in (250, 251):
                accepted.append(recipient)
            else:
                refused[recipient] = reply
                if reply.code == 421:  # the receiver is going away: the rest with it
                    refused.update((r, reply) for r in recipients if r not in refused)
                    return await self._failed(wire, refused)
        if not accepted and not pipelining:
            return await self._failed(wire, refused)
        if not pipelining:
            wire.write(lines[-1])
        go = await wire.read()
        if go.code != 354:
            if accepted:
                refused.update(dict.fromkeys(accepted, go))
            return await self._failed(wire, refused)
        if not accepted:
            # Pipelined, every RCPT refused, yet the receiver wants the data (RFC 2920
            # 3.1 says it should not): end an empty message and drop the transaction.
            wire.write(b".\r\n")
            await wire.read()
            return await self._failed(wire, refused)
        wire.write(wire_form(raw))
        await wire.drain()
        final = await wire.read()
        if final.code // 100 != 2:
            refused.update(dict.fromkeys(accepted, final))
            return await self._failed(wire, refused)
        replies = {r: refused.get(r) or final for r in recipients}
        return SendResult(replies, closed=not wire.is_open)

    async def _failed(self, wire: _Wire, replies: dict[str, Reply]) -> SendResult:
        """A transaction that did not complete: RSET so the session can take the next message."""
        if any(r.code == 421 for r in replies.values()):
            wire.close()
            return SendResult(replies, closed=True)
        try:
            wire.write(b"RSET\r\n")
            reset = await wire.read()
        except _LostError:
            return SendResult(replies, closed=True)
        if reset.code == 421:
            wire.close()
        return SendResult(replies, closed=not wire.is_open)

    async def close(self) -> None:
        """QUIT politely; never raises."""
        wire = self.wire
        if wire.is_open:
            try:
                async with asyncio.timeout(_QUIT_TIMEOUT):
                    wire.write(b"QUIT\r\n")
                    await wire.read()
            except (_LostError, OSError, TimeoutError):
                pass
        wire.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # One context for every outbound session: building one loads the CA store (~20 ms
    # of CPU), and opportunistic STARTTLS between MTAs does not verify certificates.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _RefusedError(Exception):
    """The receiver answered the opening with something other than yes."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


async def _ehlo(wire: _Wire, helo: str) -> tuple[bool, frozenset[str]]:
    """EHLO (HELO when EHLO is refused): whether ESMTP, and the extension keywords."""
    wire.write(f"EHLO {helo}\r\n".encode())
    reply = await wire.read()
    if reply.code == 250:
        keywords = set()
        for line in reply.text.split("\n")[1:]:
            line = line.strip()
            if line[:5].lower() == "auth=":  # old-style AUTH=... advertisement
                keywords.add("auth")
            elif line:
                keywords.add(line.partition(" ")[0].lower())
        return True, frozenset(keywords)
    if reply.code == 421:
        raise _RefusedError(reply)
    wire.write(f"HELO {helo}\r\n".encode())
    reply = await wire.read()
    if reply.code != 250:
        raise _RefusedError(reply)
    return False, frozenset()


async def _open_one(
    address: Address,
    *,
    helo: str,
    source_ip: str | None,
    tls: TlsMode,
    timeout: float,
    pipelining: bool,
) -> Connection:
    loop = asyncio.get_running_loop()
    port = address.port or 25
    wire: _Wire | None = None
    try:
        async with asyncio.timeout(timeout):
            _, wire = await loop.create_connection(
                lambda: _Wire(loop),
                address.host,
                port,
                local_addr=(source_ip, 0) if source_ip else None,
            )
            greeting = await wire.read()
            if greeting.code != 220:
                raise _RefusedError(greeting)
            esmtp, extensions = await _ehlo(wire, helo)
            secure = False
            if tls != "no" and "starttls" in extensions:
                wire.write(b"STARTTLS\r\n")
                ready = await wire.read()
                if ready.code != 220:
                    raise _RefusedError(ready)
                wire.start_tls_reset()
                assert wire.transport is not None
                transport = await loop.start_tls(
                    wire.transport, wire, _tls_context(), server_hostname=address.host
                )
                if transport is None:
                    raise _LostError("the TLS handshake did not complete")
                wire.transport = transport
                secure = True
                esmtp, extensions = await _ehlo(wire, helo)
            elif tls == "required":
                raise _LostError("SMTP STARTTLS extension not supported by server.")
    except BaseException:
        if wire is not None:
            wire.close()
        raise
    return Connection(
        wire,
        address.host,
        port,
        source_ip or "",
        secure,
        esmtp,
        extensions=extensions,
        pipelining=pipelining and "pipelining" in extensions,
    )


async def open_connection(
    hosts: Sequence[Address],
    *,
    helo: str,
    source_ip: str | None,
    tls: TlsMode,
    timeout: float,
    pipelining: bool = True,
) -> Connection | OpenFailure:
    """A session with the first host that greets us (and agrees to TLS when required).

    ``pipelining`` False (``smtp-pipelining no``): one command per round trip even when
    the receiver offers PIPELINING.
    """
    failure = OpenFailure(NO_ANSWER("no mail host to try"))
    for address in hosts:
        try:
            return await _open_one(
                address,
                helo=helo,
                source_ip=source_ip,
                tls=tls,
                timeout=timeout,
                pipelining=pipelining,
            )
        except _RefusedError as exc:
            failure = OpenFailure(exc.reply, address.host)
        except (_LostError, OSError, TimeoutError, ssl.SSLError) as exc:
            why = str(exc) or type(exc).__name__
            port = address.port or 25
            failure = OpenFailure(
                NO_ANSWER(f"cannot connect to {address.host}:{port}: {why}"), address.host
            )
    return failure

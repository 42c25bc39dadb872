"""The outbound client against a scripted receiver on a loopback socket.

The receiver answers from a table (by command, or by recipient for RCPT); with
``hold`` it answers nothing until it has read the whole envelope up to DATA, which
only a client that pipelines (RFC 2920) gets past.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from mta.config.values import Address
from mta.delivery.client import Connection, OpenFailure, open_connection, wire_form

MESSAGE = b"From: a@sender.test\r\nSubject: x\r\n\r\n.leading dot\r\nbody\r\n.\r\n..two\r\n"


@dataclass
class Receiver:
    """What the scripted receiver says, and what it was told."""

    greeting: bytes = b"220 mx.test ESMTP\r\n"
    pipelining: bool = True
    hold: bool = False  # no reply before DATA: proves the client pipelined
    replies: dict[str, bytes] = field(default_factory=dict)  # "MAIL", "DATA", "END", rcpt
    hang_up_after: str = ""  # close the socket instead of answering this command
    silent: str = ""  # never answer this command
    commands: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def answer(self, command: str) -> bytes:
        verb = command[:4].upper()
        if verb == "EHLO":
            extra = b"250-PIPELINING\r\n" if self.pipelining else b""
            return b"250-mx.test\r\n" + extra + b"250-SIZE 1000000\r\n250 8BITMIME\r\n"
        if verb == "RCPT":
            rcpt = command.partition("<")[2].rstrip(">")
            return self.replies.get(rcpt, b"250 2.1.5 ok\r\n")
        if verb == "QUIT":
            return b"221 bye\r\n"
        default = {"MAIL": b"250 2.1.0 ok\r\n", "DATA": b"354 go\r\n", "RSET": b"250 ok\r\n"}
        return self.replies.get(verb, default.get(verb, b"502 no\r\n"))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        held: list[bytes] = []
        try:
            while line := await reader.readline():
                command = line.decode().rstrip("\r\n")
                self.commands.append(command)
                if command.upper() == self.hang_up_after:
                    break
                if command.upper() == self.silent:
                    continue
                reply = self.answer(command)
                if self.hold and command.upper() != "DATA" and command[:4] in ("MAIL", "RCPT"):
                    held.append(reply)
                    continue
                writer.write(b"".join(held) + reply)
                held = []
                if command.upper() == "DATA" and reply.startswith(b"354"):
                    self.bodies.append(await reader.readuntil(b"\r\n.\r\n"))
                    writer.write(self.replies.get("END", b"250 2.0.0 queued as X\r\n"))
                if command.upper() == "QUIT":
                    break
        finally:
            writer.close()


@asynccontextmanager
async def session(receiver: Receiver, **kw: object) -> AsyncIterator[Connection]:
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        conn = await open_connection(
            [Address("127.0.0.1", port)],
            helo="out.test",
            source_ip=None,
            tls="opportunistic",
            timeout=5,
            **kw,  # type: ignore[arg-type]
        )
        assert isinstance(conn, Connection)
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        server.close()


def unstuffed(body: bytes) -> bytes:
    assert body.endswith(b"\r\n.\r\n")
    lines = body[:-3].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_wire_form_is_crlf_dot_stuffed_and_ended() -> None:
    assert wire_form(b".a\r\nb\r\n.\r\n") == b"..a\r\nb\r\n..\r\n.\r\n"
    assert wire_form(b"a\r\nb") == b"a\r\nb\r\n.\r\n"
    # Bare LF / CR (the 'SMTP smuggling' shapes) become CRLF lines, then get stuffed.
    assert wire_form(b"a\n.\nb\r.\rc\r\n") == b"a\r\n..\r\nb\r\n..\r\nc\r\n.\r\n"


async def test_pipelined_envelope_gets_a_reply_per_recipient() -> None:
    receiver = Receiver(hold=True, replies={"bad@x.test": b"550 5.1.1 no such user\r\n"})
    async with session(receiver) as conn:
        assert conn.pipelining
        result = await conn.send(
            "s@sender.test", ["a@x.test", "bad@x.test", "c@x.test"], MESSAGE, timeout=5
        )
        assert {r: (v.code, v.text) for r, v in result.replies.items()} == {
            "a@x.test": (250, "2.0.0 queued as X"),
            "bad@x.test": (550, "5.1.1 no such user"),
            "c@x.test": (250, "2.0.0 queued as X"),
        }
        assert not result.closed
        second = await conn.send("", ["a@x.test"], MESSAGE, timeout=5)
        assert second.replies["a@x.test"].code == 250
    assert unstuffed(receiver.bodies[0]) == MESSAGE
    assert receiver.commands[:2] == [
        "EHLO out.test",
        f"MAIL FROM:<s@sender.test> SIZE={len(MESSAGE)}",
    ]
    assert f"MAIL FROM:<> SIZE={len(MESSAGE)}" in receiver.commands


async def test_without_pipelining_a_refused_sender_leaves_the_session_usable() -> None:
    receiver = Receiver(pipelining=False, replies={"MAIL": b"451 4.3.0 try later\r\n"})
    async with session(receiver) as conn:
        assert not conn.pipelining
        result = await conn.send("s@sender.test", ["a@x.test", "b@x.test"], MESSAGE, timeout=5)
        assert {v.code for v in result.replies.values()} == {451}
        assert not result.closed
    assert [c.split(" ")[0] for c in receiver.commands[1:]] == ["MAIL", "RSET", "QUIT"]


async def test_smtp_pipelining_no_sends_one_command_per_round_trip() -> None:
    receiver = Receiver(replies={"b@x.test": b"452 4.2.2 full\r\n"})
    async with session(receiver, pipelining=False) as conn:
        assert not conn.pipelining
        result = await conn.send("s@sender.test", ["a@x.test", "b@x.test"], MESSAGE, timeout=5)
    assert result.replies["a@x.test"].code == 250
    assert result.replies["b@x.test"].code == 452


async def test_every_recipient_refused_sends_no_body() -> None:
    refuse = dict.fromkeys(("a@x.test", "b@x.test"), b"550 5.1.1 unknown\r\n")
    receiver = Receiver(replies={**refuse, "DATA": b"554 5.5.1 no valid recipients\r\n"})
    async with session(receiver) as conn:
        result = await conn.send("s@sender.test", ["a@x.test", "b@x.test"], MESSAGE, timeout=5)
        assert {v.code for v in result.replies.values()} == {550}
        assert not result.closed
    assert receiver.bodies == []


async def test_data_refused_after_rcpt_keeps_the_rcpt_refusals() -> None:
    receiver = Receiver(
        replies={"b@x.test": b"550 5.1.1 unknown\r\n", "END": b"451 4.7.1 greylisted\r\n"}
    )
    async with session(receiver) as conn:
        result = await conn.send("s@sender.test", ["a@x.test", "b@x.test"], MESSAGE, timeout=5)
    assert (result.replies["a@x.test"].code, result.replies["b@x.test"].code) == (451, 550)


async def test_a_421_or_a_hang_up_closes_the_session() -> None:
    receiver = Receiver(replies={"MAIL": b"421 4.3.2 shutting down\r\n"})
    async with session(receiver) as conn:
        result = await conn.send("s@sender.test", ["a@x.test"], MESSAGE, timeout=5)
        assert result.replies["a@x.test"].code == 421
        assert result.closed
    receiver = Receiver(hang_up_after="DATA", pipelining=False)
    async with session(receiver) as conn:
        result = await conn.send("s@sender.test", ["a@x.test"], MESSAGE, timeout=5)
        assert result.replies["a@x.test"].code == 0
        assert "lost" in result.replies["a@x.test"].text
        assert result.closed


async def test_a_silent_receiver_times_out_as_no_answer() -> None:
    receiver = Receiver(hold=True, silent="DATA")
    async with session(receiver) as conn:
        result = await conn.send("s@sender.test", ["a@x.test"], MESSAGE, timeout=0.3)
    assert result.replies["a@x.test"].code == 0
    assert result.closed


async def test_opening_fails_with_the_greeting_or_without_required_tls() -> None:
    receiver = Receiver(greeting=b"554 5.7.1 go away\r\n")
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        hosts = [Address("127.0.0.1", port)]
        failed = await open_connection(hosts, helo="out.test", source_ip=None, tls="no", timeout=5)
        assert isinstance(failed, OpenFailure)
        assert (failed.reply.code, failed.reply.text) == (554, "5.7.1 go away")
        receiver.greeting = Receiver.greeting
        failed = await open_connection(
            hosts, helo="out.test", source_ip=None, tls="required", timeout=5
        )
        assert isinstance(failed, OpenFailure)
        assert failed.reply.code == 0
        assert "STARTTLS" in failed.reply.text
    finally:
        server.close()

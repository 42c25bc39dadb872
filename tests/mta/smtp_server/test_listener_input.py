"""Input validation at the listener: control characters, bytes that are not UTF-8, bad syntax."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.mta.smtp_server._listener_kit import RawClient, bounded, raw_client, running

pytestmark = pytest.mark.slow  # every test here starts the SMTP listener


@pytest.mark.parametrize(
    "line",
    [
        b"MAIL FROM:<nul\x00sender@x.com>",
        b"MAIL FROM:<bell\x07@x.com>",
        b"MAIL FROM:<a\xff\xfe@x.com>",
        b"MAIL FROM:<a@x.com> ENVID=a\x01b",
    ],
)
@bounded
async def test_mail_with_a_control_character_or_bad_utf8_is_refused_with_501(
    tmp_path: Path, line: bytes
) -> None:
    """MAIL FROM with a NUL, another control character or bytes that are not UTF-8 gets 501,
    nothing is spooled, and the refusal is in the reject log (the character made visible)."""
    async with running(tmp_path) as run:
        smtp = await raw_client(run.port)
        await smtp.send(b"EHLO client.test")
        code, message = await smtp.send(line)
        assert (code, message[:5]) == (501, "5.5.2")
        # The session goes on: a good transaction still works.
        assert (await smtp.send(b"MAIL FROM:<app@example.test>"))[0] == 250
        assert (await smtp.send(b"RCPT TO:<bob@example.net>"))[0] == 250
        assert (await smtp.send(b"DATA"))[0] == 354
        assert (await smtp.send(b"Subject: x\r\n\r\nx\r\n."))[0] == 250
        smtp.close()
        assert len(run.spooled()) == 1
        (row,) = run.rejects()
        assert row.reply.startswith("501 5.5.2")
        assert "\x00" not in row.command


@bounded
async def test_rcpt_with_a_control_character_is_refused_with_501(tmp_path: Path) -> None:
    """RCPT TO with a control character gets 501 5.5.2."""
    async with running(tmp_path) as run:
        smtp = await raw_client(run.port)
        await smtp.send(b"EHLO client.test")
        await smtp.send(b"MAIL FROM:<app@example.test>")
        assert (await smtp.send(b"RCPT TO:<bob\x1b@example.net>"))[0] == 501
        smtp.close()


@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("../../../etc/passwd@example.com", "5.1.3"),
        ("user@-bad-.example", "5.1.3"),
        ("user@exa_mple.com", "5.1.3"),
        ("john..doe@example.com", "5.1.3"),
        ("user@[not-an-ip]", "5.1.3"),
    ],
)
@bounded
async def test_recipients_that_are_not_rfc5321_mailboxes_are_refused(
    tmp_path: Path, address: str, status: str
) -> None:
    """A recipient the address validator refuses gets 501 5.1.3 with the reason, and is logged."""
    async with running(tmp_path) as run:
        smtp = await raw_client(run.port)
        await smtp.send(b"EHLO client.test")
        await smtp.send(b"MAIL FROM:<app@example.test>")
        code, message = await smtp.send(f"RCPT TO:<{address}>".encode())
        smtp.close()
        assert (code, message[:5]) == (501, status)
        (row,) = run.rejects()
        assert (row.rcpt, row.reason) == (address, "bad recipient address")


@bounded
async def test_a_bad_sender_is_refused_with_501_5_1_7(tmp_path: Path) -> None:
    """A sender the validator refuses gets 501 5.1.7; the null sender <> is still fine."""
    async with running(tmp_path) as run:
        smtp = await raw_client(run.port)
        await smtp.send(b"EHLO client.test")
        code, message = await smtp.send(b"MAIL FROM:<user@exa_mple.com>")
        assert (code, message[:5]) == (501, "5.1.7")
        assert "underscore" in message
        assert (await smtp.send(b"MAIL FROM:<>"))[0] == 250
        smtp.close()


@bounded
async def test_ehlo_with_a_control_character_is_refused(tmp_path: Path) -> None:
    """EHLO whose name holds a control character gets 501; a clean EHLO afterwards works."""
    async with running(tmp_path) as run:
        smtp = await raw_client(run.port)
        assert (await smtp.send(b"EHLO bad\x00name"))[0] == 501
        assert (await smtp.send(b"EHLO client.test"))[0] == 250
        smtp.close()


@bounded
async def test_mail_before_helo_gets_exactly_one_503(tmp_path: Path) -> None:
    """MAIL FROM before EHLO gets one 503 reply, so the client's next command gets its own
    answer (a second 503 would be read as the reply to the next command)."""
    async with running(tmp_path) as run:
        smtp = await raw_client(run.port)
        assert (await smtp.send(b"MAIL FROM:<app@example.test>"))[0] == 503
        # NOOP's own 250, not a leftover 503 of the MAIL.
        assert (await smtp.send(b"NOOP"))[0] == 250
        assert (await smtp.send(b"EHLO client.test"))[0] == 250
        assert (await smtp.send(b"MAIL FROM:<app@example.test>"))[0] == 250
        smtp.close()


@bounded
async def test_pipelined_commands_early_talk_and_quit_after_the_data(tmp_path: Path) -> None:
    """A client that writes EHLO before reading the banner gets the banner first, then
    its reply; MAIL, RCPT and DATA in one packet get their three replies in order
    (RFC 2920); the message's end and QUIT in one packet get 250 then 221 and the
    connection closes; exactly one message is spooled."""
    async with running(tmp_path) as run:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", run.port, local_addr=("127.0.0.1", 0)
        )
        raw = RawClient(reader, writer)
        try:
            writer.write(b"EHLO client.test\r\n")  # before the banner is read
            assert (await raw.reply())[0] == 220
            assert (await raw.reply())[0] == 250
            writer.write(b"MAIL FROM:<app@example.test>\r\nRCPT TO:<a@example.net>\r\nDATA\r\n")
            assert [(await raw.reply())[0] for _ in range(3)] == [250, 250, 354]
            writer.write(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
            assert [(await raw.reply())[0] for _ in range(2)] == [250, 221]
            assert await asyncio.wait_for(reader.read(), 10) == b""
        finally:
            raw.close()
        assert len(run.spooled()) == 1


@bounded
async def test_a_client_that_only_errs_is_hung_up_on(tmp_path: Path) -> None:
    """Twenty errors the core answers itself (here: empty lines) without a message in
    between: nineteen 500s, then 421 4.7.0 and the server closes the connection."""
    async with running(tmp_path) as run:
        raw = await raw_client(run.port)
        try:
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            raw.writer.write(b"\r\n" * 25)
            codes = [(await raw.reply())[0] for _ in range(20)]
            assert codes == [500] * 19 + [421]
            assert await asyncio.wait_for(raw.reader.read(), 10) == b""
        finally:
            raw.close()


@bounded
async def test_a_slow_message_is_not_cut_while_bytes_keep_coming(tmp_path: Path) -> None:
    """The idle timeout counts time without bytes, not time without a command: a DATA
    that trickles in over several timeouts (a big message on a slow link) is taken."""
    async with running(tmp_path, idle_timeout=0.5) as run:
        raw = await raw_client(run.port)
        try:
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"MAIL FROM:<app@example.test>"))[0] == 250
            assert (await raw.send(b"RCPT TO:<a@example.net>"))[0] == 250
            assert (await raw.send(b"DATA"))[0] == 354
            raw.writer.write(b"Subject: slow\r\n\r\n")
            for _ in range(8):  # 1.6 s in all, never 0.5 s without a byte
                await asyncio.sleep(0.2)
                raw.writer.write(b"line\r\n")
                await raw.writer.drain()
            assert (await raw.send(b"."))[0] == 250
        finally:
            raw.close()
        assert len(run.spooled()) == 1

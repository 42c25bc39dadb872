"""Input validation at the listener: control characters, bytes that are not UTF-8, bad syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mta.smtp_server._listener_kit import bounded, raw_client, running

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

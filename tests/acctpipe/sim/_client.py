"""A tiny aiosmtplib client for the simulator tests: one message from a chosen source IP."""

from __future__ import annotations

import ssl

import aiosmtplib

MESSAGE = (
    b"From: Sender <news@sender.test>\r\nTo: bob@isp.test\r\nSubject: hello\r\n"
    b"Message-ID: <m1@sender.test>\r\nX-Acctpipe-Id: q-0001\r\nX-Acctpipe-Rcpt: bob@isp.test\r\n"
    b"\r\nHello Bob.\r\n"
)


def client(port: int, source: str = "127.0.0.2", *, timeout: float = 5) -> aiosmtplib.SMTP:
    """A client bound to the loopback alias ``source`` (the peer IP the simulator sees)."""
    return aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        source_address=(source, 0),
        start_tls=False,
        timeout=timeout,
    )


async def send_one(
    port: int,
    source: str = "127.0.0.2",
    *,
    sender: str = "news@sender.test",
    rcpts: tuple[str, ...] = ("bob@isp.test",),
    tls: ssl.SSLContext | None = None,
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """Connect, optionally STARTTLS, send MESSAGE, quit; aiosmtplib's (refused, reply)."""
    smtp = client(port, source)
    async with smtp:
        if tls is not None:
            await smtp.starttls(tls_context=tls)
        return await smtp.sendmail(sender, list(rcpts), MESSAGE)

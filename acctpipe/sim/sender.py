"""Send a report (DSN, ARF) back to a sender's inbound listener, over loopback only."""

from __future__ import annotations

import aiosmtplib

from acctpipe.sim._loopback import require_loopback

__all__ = ["send_report"]


async def send_report(
    report: bytes,
    *,
    host: str,
    port: int,
    rcpt_to: str,
    mail_from: str = "",
    helo: str = "mx.sim.test",
    timeout: float = 10.0,
) -> str:
    """Deliver ``report`` to ``host:port`` (loopback) and return the server's final reply.

    The envelope sender defaults to the null path ``<>``, as for every DSN
    (RFC 5321 §4.5.5). Raises aiosmtplib's errors if the listener refuses.
    """
    require_loopback(host)
    client = aiosmtplib.SMTP(
        hostname=host, port=port, local_hostname=helo, timeout=timeout, start_tls=False
    )
    async with client:
        _, reply = await client.sendmail(mail_from, [rcpt_to], report)
    return reply

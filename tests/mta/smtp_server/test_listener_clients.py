"""Real SMTP clients against the real listener on loopback: smtplib and aiosmtplib.

Postfix's smtp-source comes from the Debian package, fetched on demand into
``.cache/peer-mta/`` by :mod:`scripts.peer_mta.postfix` (a client needs no
namespace: its libraries are found through ``LD_LIBRARY_PATH``). aiosmtplib
has no PIPELINING of its own; pipelined input is covered by
tests/mta/test_listener.py::test_pipelined_commands_are_answered_in_order and the
core's own tests.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import pytest

from scripts.peer_mta import postfix
from scripts.peer_mta.prefix import PrefixError
from tests.mta.smtp_server._listener_kit import (
    CONFIG,
    MESSAGE,
    PASSWORD,
    bounded,
    client,
    client_tls,
    raw_client,
    running,
)

SENDER = "app@example.test"
PLAIN_AUTH = CONFIG.replace(
    "<source 0/0>\n",
    "<source 127.0.0.2>\n    allow-unencrypted-plain-auth yes\n</source>\n<source 0/0>\n",
)


def _smtplib_session(port: int, context: ssl.SSLContext) -> list[tuple[int, bytes]]:
    """What a Python application does: EHLO, STARTTLS, AUTH, two messages, QUIT."""
    replies: list[tuple[int, bytes]] = []
    with smtplib.SMTP("127.0.0.1", port, local_hostname="py.test", timeout=10) as smtp:
        replies.append(smtp.ehlo())
        assert smtp.has_extn("starttls")
        assert smtp.has_extn("pipelining")
        replies.append(smtp.starttls(context=context))
        replies.append(smtp.ehlo())
        assert smtp.has_extn("auth")
        replies.append(smtp.login("app", PASSWORD))
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = SENDER, "bob@example.net", "hi"
        message.set_content("Hello from smtplib.\n.leading dot\n")
        assert smtp.send_message(message) == {}
        refused = smtp.sendmail(
            "jörg@example.test",
            ["zoë@example.net"],
            "Subject: utf8\r\n\r\nGrüße\r\n".encode(),
            mail_options=["SMTPUTF8", "BODY=8BITMIME"],
        )
        assert refused == {}
        replies.append(smtp.noop())
    return replies


@bounded
async def test_smtplib_starttls_auth_and_utf8(tmp_path: Path) -> None:
    """smtplib (the standard library client) gets STARTTLS, AUTH over TLS, an 8-bit UTF-8
    message with SMTPUTF8, dot-stuffing round trip, and QUIT — every reply as it expects."""
    async with running(tmp_path) as run:
        replies = await asyncio.to_thread(_smtplib_session, run.port, client_tls())
        assert [code for code, _ in replies] == [250, 220, 250, 235, 250]
        (raw1, env1), (raw2, env2) = run.spooled()
    assert b"\n.leading dot" in raw1
    assert b" with ESMTPSA id " in raw1
    assert env1.extra["auth_user"] == "app"
    assert (env2.sender, env2.recipients) == ("jörg@example.test", ["zoë@example.net"])
    assert raw2.endswith("Grüße\r\n".encode())


@bounded
async def test_many_concurrent_aiosmtplib_clients(tmp_path: Path) -> None:
    """Twenty aiosmtplib connections at once, five messages each (two with AUTH on a plain
    connection where the source allows it): all 100 spooled, none refused, none mixed up."""
    async with running(tmp_path, PLAIN_AUTH) as run:

        async def one(n: int) -> None:
            source = "127.0.0.2" if n % 10 == 0 else "127.0.0.1"
            async with client(run.port, source) as smtp:
                if source == "127.0.0.2":
                    await smtp.ehlo()
                    assert (await smtp.auth_plain("app", PASSWORD)).code == 235
                for i in range(5):
                    rcpt = f"c{n}-{i}@example.net"
                    refused, reply = await smtp.sendmail(SENDER, [rcpt], MESSAGE)
                    assert refused == {}
                    assert reply.startswith("2.0.0 OK queued as ")

        await asyncio.gather(*(one(n) for n in range(20)))
        spooled = run.spooled()
        assert run.listener.stats().accepted == 100
    assert sorted(env.recipients[0] for _, env in spooled) == sorted(
        f"c{n}-{i}@example.net" for n in range(20) for i in range(5)
    )
    assert all(raw.endswith(MESSAGE) for raw, _ in spooled)
    assert run.rejects() == []


@pytest.mark.slow
@bounded
async def test_a_large_message_over_many_reads(tmp_path: Path) -> None:
    """A 15 MB message (bigger than the read pause threshold) arrives whole; the
    connection stays usable for the next command."""
    text = CONFIG.replace("max-message-size 20K", "max-message-size 20M")
    body = (b"x" * 998 + b"\r\n") * 15_000
    async with running(tmp_path, text) as run, client(run.port, timeout=60) as smtp:
        refused, _ = await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE + body)
        assert refused == {}
        assert (await smtp.noop()).code == 250
        ((raw, _),) = run.spooled()
    assert raw.endswith(MESSAGE + body)


def _smtp_source() -> tuple[Path, dict[str, str]]:
    """Postfix's smtp-source and the environment to run it (downloads it on first use)."""
    try:
        root = postfix.prefix().root
    except (PrefixError, OSError) as exc:  # no apt-get here: nothing to test against
        pytest.skip(f"cannot fetch Postfix: {exc}")
    env = dict(os.environ, LD_LIBRARY_PATH=str(root / "usr/lib/postfix"))
    return root / "usr/sbin/smtp-source", env


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        ["-s", "4", "-m", "40", "-l", "3000"],  # EHLO, one message per connection
        ["-d", "-s", "2", "-m", "20", "-r", "3"],  # connections reused, three recipients
        ["-s", "1", "-m", "5", "-l", "15000"],  # near the source's 20K limit
    ],
)
@bounded
async def test_postfix_smtp_source(tmp_path: Path, options: list[str]) -> None:
    """Postfix's load generator (smtp-source) talking to the listener: every message it
    sends is accepted and spooled whole, with parallel sessions, reused connections,
    several recipients, and messages near the size limit."""
    binary, env = await asyncio.to_thread(_smtp_source)
    async with running(tmp_path) as run:
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            *options,
            "-f",
            SENDER,
            "-t",
            "bob@example.net",
            "-M",
            "source.test",
            f"127.0.0.1:{run.port}",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(proc.communicate(), 50)
        assert proc.returncode == 0, output.decode(errors="replace")
        spooled = run.spooled()
        count = int(options[options.index("-m") + 1])
        assert len(spooled) == count
        recipients = int(options[options.index("-r") + 1]) if "-r" in options else 1
        assert all(len(env.recipients) == recipients for _, env in spooled)
        assert run.rejects() == []


@pytest.mark.slow
@bounded
async def test_an_idle_session_is_closed_after_the_timeout(tmp_path: Path) -> None:
    """A client that says nothing for idle_timeout seconds is hung up on (no reply);
    one that keeps talking is not."""
    async with running(tmp_path, idle_timeout=0.5) as run:
        idle = await raw_client(run.port)
        talking = await raw_client(run.port)
        for _ in range(4):
            await asyncio.sleep(0.2)
            assert (await talking.send(b"NOOP"))[0] == 250
        assert await idle.reply() == (0, "")  # hung up
        talking.close()
        idle.close()

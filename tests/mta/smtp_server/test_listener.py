"""The SMTP listener on real loopback sockets: relay policy, limits, headers, hand-over, stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosmtplib
import pytest

from tests.mta.smtp_server._listener_kit import (
    CONFIG,
    MESSAGE,
    LocalSink,
    bounded,
    client,
    parse,
    running,
)

pytestmark = pytest.mark.slow  # every test here starts the SMTP listener

SENDER = "app@example.test"


async def _until(predicate: object, what: str) -> None:
    """Wait (bounded) until ``predicate()`` holds: the server side of a hang-up lags the client."""
    for _ in range(500):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@bounded
async def test_accepts_from_an_allowed_source_and_spools_with_a_received_header(
    tmp_path: Path,
) -> None:
    """A relaying source gets 250 with the spool id; the spooled bytes are Received + message."""
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            refused, reply = await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert refused == {}
        ((raw, envelope),) = run.spooled()
        assert reply == f"2.0.0 OK queued as {run.spool.ids('incoming')[0]}"
        received, _, original = raw.partition(b"From: App")
        assert b"From: App" + original == MESSAGE
        assert received.startswith(b"Received: from client.test ([127.0.0.1])\r\n\tby mta.test")
        assert b" with ESMTP id " in received
        assert b"\r\n\tfor <bob@example.net>; " in received
        assert received.endswith(b"+0000\r\n")
        assert (envelope.sender, envelope.recipients, envelope.vmta) == (
            SENDER,
            ["bob@example.net"],
            "ip-1",  # the source's default-virtual-mta
        )
        assert envelope.extra == {"source_ip": "127.0.0.1", "source": "127.0.0.1"}
        assert run.listener.stats().accepted == 1


@bounded
async def test_relaying_from_a_source_without_permission_is_refused_and_logged(
    tmp_path: Path,
) -> None:
    """127.0.0.2 (only <source 0/0>) gets 550 5.7.1 per RCPT, a reject-log row, and no spool."""
    async with running(tmp_path) as run:
        async with client(run.port, "127.0.0.2") as smtp:
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
                await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        (refusal,) = caught.value.recipients
        assert (refusal.code, refusal.message) == (550, "5.7.1 Relaying denied")
        assert run.spooled() == []
        (row,) = run.rejects()
        assert (row.remote_ip, row.helo, row.mail_from, row.rcpt) == (
            "127.0.0.2",
            "client.test",
            SENDER,
            "bob@example.net",
        )
        assert row.command == "RCPT TO:<bob@example.net>"
        assert row.reply == "550 5.7.1 Relaying denied"
        assert "relaying not allowed for 127.0.0.2 (<source 0/0>)" in row.reason
        assert row.listener == f"127.0.0.1:{run.port}"
        assert row.remote_port is not None
        assert run.listener.stats().rejected == 1


@bounded
async def test_size_is_advertised_and_enforced_on_mail_and_on_data(tmp_path: Path) -> None:
    """EHLO says SIZE 20480 (max-message-size 20K); a bigger SIZE= or body gets 552, logged."""
    big = MESSAGE + b"x" * 100 + b"\r\n" + (b"y" * 900 + b"\r\n") * 30
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            ehlo = await smtp.ehlo()
            assert "SIZE 20480" in ehlo.message.splitlines()
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
                await smtp.mail(SENDER, options=[f"SIZE={len(big)}"])
            assert caught.value.code == 552
            assert caught.value.message.startswith("5.3.4 ")
            await smtp.mail(SENDER)  # no SIZE: the limit applies to the data itself
            await smtp.rcpt("bob@example.net")
            with pytest.raises(aiosmtplib.SMTPDataError) as too_much:
                await smtp.data(big)
            assert too_much.value.code == 552
        assert run.spooled() == []
        mail_row, data_row = run.rejects()
        assert mail_row.command == f"MAIL FROM:<{SENDER}> SIZE={len(big)}"
        assert "max-message-size" in mail_row.reason
        assert (data_row.command, data_row.reply[:3]) == ("DATA", "552")


@bounded
async def test_smtp_service_no_refuses_at_connect(tmp_path: Path) -> None:
    """<source 127.0.0.3> smtp-service no: the banner is a 421 and the refusal is logged."""
    async with running(tmp_path) as run:
        with pytest.raises(aiosmtplib.SMTPConnectResponseError) as caught:
            await client(run.port, "127.0.0.3").connect()
        assert caught.value.code == 421
        (row,) = run.rejects()
        assert (row.remote_ip, row.reply[:9]) == ("127.0.0.3", "421 4.7.0")
        assert "smtp-service no" in row.reason


@bounded
async def test_max_smtp_in_caps_concurrent_sessions_per_source(tmp_path: Path) -> None:
    """max-smtp-in 1: a second concurrent session gets 421; once the first ends, a new one fits."""
    async with running(tmp_path) as run:
        first = client(run.port, "127.0.0.4")
        await first.connect()
        with pytest.raises(aiosmtplib.SMTPConnectResponseError) as caught:
            await client(run.port, "127.0.0.4").connect()
        assert caught.value.code == 421
        assert run.listener.stats().connections == 1
        await first.quit()
        await _until(lambda: run.listener.stats().connections == 0, "the session to end")
        async with client(run.port, "127.0.0.4") as again:
            refused, _ = await again.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert refused == {}
        (row,) = run.rejects()
        assert "max-smtp-in 1" in row.reason


@bounded
async def test_control_headers_are_honoured_and_stripped(tmp_path: Path) -> None:
    """X-Virtual-MTA and X-Job choose vmta and job, and never reach the receiver; ENVID wins."""
    message = b"X-Virtual-MTA: pool-a\r\nX-Job: job-42\r\nX-EnvID: from-header\r\n" + MESSAGE
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            await smtp.sendmail(SENDER, ["bob@example.net"], message)
            await smtp.sendmail(
                SENDER, ["bob@example.net"], message, mail_options=["ENVID=env+2B7", "RET=HDRS"]
            )
        (raw1, env1), (raw2, env2) = run.spooled()
        for raw in (raw1, raw2):
            assert raw.endswith(MESSAGE)
            for name in (b"X-Virtual-MTA", b"X-Job", b"X-EnvID"):
                assert name not in raw
        assert (env1.vmta, env1.job_id, env1.extra["env_id"]) == ("pool-a", "job-42", "from-header")
        assert (env2.vmta, env2.job_id, env2.extra["env_id"]) == ("pool-a", "job-42", "env+7")


@bounded
async def test_an_unknown_x_virtual_mta_is_refused_at_data(tmp_path: Path) -> None:
    """A honoured X-Virtual-MTA naming no vmta or pool gets 550 5.7.1 and a reject-log row."""
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            with pytest.raises(aiosmtplib.SMTPDataError) as caught:
                await smtp.sendmail(
                    SENDER, ["bob@example.net"], b"X-Virtual-MTA: nope\r\n" + MESSAGE
                )
        assert (caught.value.code, caught.value.message[:5]) == (550, "5.7.1")
        assert run.spooled() == []
        (row,) = run.rejects()
        assert (row.command, row.rcpt) == ("DATA", "")
        assert "unknown X-Virtual-MTA 'nope'" in row.reason


@bounded
async def test_pipelined_commands_are_answered_in_order(tmp_path: Path) -> None:
    """PIPELINING is advertised; MAIL, RCPT, RCPT, DATA in one write get four replies in order."""
    async with running(tmp_path) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port)

        async def reply() -> list[bytes]:
            lines = []
            while True:
                line = await asyncio.wait_for(reader.readline(), 10)
                lines.append(line.rstrip(b"\r\n"))
                if line[3:4] != b"-":
                    return lines

        try:
            assert (await reply())[0].startswith(b"220 mta.test")
            writer.write(b"EHLO pipe.test\r\n")
            assert b"250-PIPELINING" in await reply()
            writer.write(
                b"MAIL FROM:<app@example.test>\r\nRCPT TO:<a@example.net>\r\n"
                b"RCPT TO:<b@example.net>\r\nDATA\r\n"
            )
            codes = [(await reply())[0][:3] for _ in range(4)]
            assert codes == [b"250", b"250", b"250", b"354"]
            writer.write(MESSAGE + b".\r\nQUIT\r\n")
            assert (await reply())[0][:3] == b"250"
            assert (await reply())[0][:3] == b"221"
        finally:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 10)
        ((_, envelope),) = run.spooled()
        assert envelope.recipients == ["a@example.net", "b@example.net"]


@bounded
async def test_8bit_and_utf8_messages_are_kept_byte_for_byte(tmp_path: Path) -> None:
    """With BODY=8BITMIME and SMTPUTF8, only a Received header is added to the exact bytes."""
    message = (
        "From: Jörg <jörg@example.test>\r\nTo: zoë@example.net\r\nSubject: Grüße\r\n\r\n".encode()
        + b"Latin-1 byte \xe9, UTF-8 \xc3\xa9, a lone dot below:\r\n.\r\n..twice\r\n"
    )
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            ehlo = (await smtp.ehlo()).message.splitlines()
            assert {"8BITMIME", "SMTPUTF8", "PIPELINING", "STARTTLS"} <= set(ehlo)
            refused, _ = await smtp.sendmail(
                "jörg@example.test",
                ["zoë@example.net"],
                message,
                mail_options=["BODY=8BITMIME", "SMTPUTF8"],
            )
        assert refused == {}
        ((raw, envelope),) = run.spooled()
        received, sep, rest = raw.partition(b"From: J")
        assert sep + rest == message
        assert b" with UTF8SMTP id " in received
        assert b"for <zo\xc3\xab@example.net>" in received
        assert (envelope.sender, envelope.recipients) == ("jörg@example.test", ["zoë@example.net"])


@bounded
async def test_non_ascii_address_without_smtputf8_is_refused(tmp_path: Path) -> None:
    """RFC 6531: a UTF-8 address needs the SMTPUTF8 parameter (553 5.6.7 otherwise)."""
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
                await smtp.mail("jörg@example.test", encoding="utf-8")
        assert (caught.value.code, caught.value.message[:5]) == (553, "5.6.7")


@bounded
async def test_returned_mail_to_our_own_address_is_consumed_not_relayed(tmp_path: Path) -> None:
    """A local recipient needs no relay permission and goes to LocalMail; others still spool."""
    sink = LocalSink()
    async with running(tmp_path, local=sink) as run:
        async with client(run.port, "127.0.0.2") as smtp:
            refused, _ = await smtp.sendmail("", ["bounces@mta.test"], MESSAGE)
        assert refused == {}
        async with client(run.port) as smtp:
            await smtp.sendmail(SENDER, ["bounces@mta.test", "bob@example.net"], MESSAGE)
        ((_, envelope),) = run.spooled()
        assert envelope.recipients == ["bob@example.net"]
    (raw1, sender1, rcpts1, ip1), (raw2, sender2, rcpts2, ip2) = sink.consumed
    assert (sender1, rcpts1, ip1) == ("", ("bounces@mta.test",), "127.0.0.2")
    assert (sender2, rcpts2, ip2) == (SENDER, ("bounces@mta.test",), "127.0.0.1")
    assert raw1.startswith(b"Received: from client.test ([127.0.0.2])")
    assert raw1.endswith(MESSAGE)
    assert raw2.endswith(MESSAGE)


@bounded
async def test_a_spool_failure_is_a_temporary_451(tmp_path: Path) -> None:
    """When the Submitter raises LocalError the client gets 451 4.3.0 and may retry later."""
    async with running(tmp_path) as run:
        run.submitter.failing = True
        async with client(run.port) as smtp:
            with pytest.raises(aiosmtplib.SMTPDataError) as caught:
                await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert (caught.value.code, caught.value.message[:5]) == (451, "4.3.0")
        (row,) = run.rejects()
        assert "No space left on device" in row.reason
        assert run.listener.stats().accepted == 0


@bounded
async def test_a_reload_applies_to_the_next_session(tmp_path: Path) -> None:
    """get_config is asked again: once 127.0.0.2 may relay, its next session can."""
    opened = CONFIG.replace(
        "<source 0/0>\n    always-allow-relaying no", "<source 0/0>\n    always-allow-relaying yes"
    )
    async with running(tmp_path) as run:
        run.config[0] = parse(opened)
        async with client(run.port, "127.0.0.2") as smtp:
            refused, _ = await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert refused == {}


@bounded
async def test_stop_lets_a_transaction_finish_and_says_421_to_idle_sessions(
    tmp_path: Path,
) -> None:
    """stop(): idle sessions get 421 4.3.2 at once; one mid-transaction completes, then 421."""
    async with running(tmp_path) as run:
        busy, idle = client(run.port), client(run.port)
        await busy.connect()
        await idle.connect()
        await idle.ehlo()
        await busy.mail(SENDER)
        await busy.rcpt("bob@example.net")
        stopping = asyncio.create_task(run.listener.stop(timeout=20))
        await asyncio.sleep(0)  # stop() runs to its first wait: new sessions refused, idle 421'd
        # The unsolicited 421 is read as the NOOP's reply, or the hang-up is seen first.
        with pytest.raises(
            (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPServerDisconnected)
        ) as bye:
            await idle.noop()
        if isinstance(bye.value, aiosmtplib.SMTPResponseException):
            assert (bye.value.code, bye.value.message) == (421, "4.3.2 Service shutting down")
        reply = await busy.data(MESSAGE)
        assert reply.code == 250
        await asyncio.wait_for(stopping, 20)
        assert len(run.spooled()) == 1
        assert run.listener.stats().connections == 0
        busy.close()
        idle.close()


@bounded
async def test_helo_clients_and_bad_dsn_parameters(tmp_path: Path) -> None:
    """A HELO (not EHLO) client is served ('with SMTP'); a malformed ENVID gets 501 5.5.4."""
    async with running(tmp_path) as run:
        async with client(run.port) as smtp:
            await smtp.helo()
            reply = await smtp.execute_command(b"MAIL", b"FROM:<app@example.test>", b"ENVID=a=b")
            assert (reply.code, reply.message) == (501, "5.5.4 Invalid ENVID parameter")
            await smtp.mail(SENDER)
            await smtp.rcpt("bob@example.net")
            assert (await smtp.data(MESSAGE)).code == 250
        ((raw, _),) = run.spooled()
        assert b" with SMTP id " in raw


class _BrokenSink(LocalSink):
    async def consume(
        self, raw: bytes, sender: str, recipients: tuple[str, ...], peer_ip: str
    ) -> None:
        raise RuntimeError("a bug in the bounce processor")


@bounded
async def test_a_bug_behind_the_listener_is_a_451_and_the_session_goes_on(tmp_path: Path) -> None:
    """An unexpected exception in a consumer answers 451 4.3.0 (no details); the next mail goes."""
    async with running(tmp_path, local=_BrokenSink()) as run, client(run.port) as smtp:
        with pytest.raises(aiosmtplib.SMTPDataError) as caught:
            await smtp.sendmail(SENDER, ["bounces@mta.test"], MESSAGE)
        assert caught.value.code == 451
        assert "bug" not in caught.value.message
        refused, _ = await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert refused == {}

"""The simulator on real loopback sockets, driven by aiosmtplib bound to 127.0.0.2 / .3."""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
import time
from pathlib import Path

import aiosmtplib
import pytest

from acctpipe.sim import BUILTIN_PROFILES, IspProfile, IspSimulator, ThreadedIspSimulator
from mta.config.values import Rate
from mta.errors import ConfigError
from tests.acctpipe.sim._client import MESSAGE, client, send_one

BASE = IspProfile("test", hostname="mx.isp.test")


@pytest.mark.slow
async def test_accepts_with_a_queue_id_and_keeps_the_message() -> None:
    """A good message gets the profile's 250 with a queue id and is kept byte for byte."""
    async with IspSimulator(BUILTIN_PROFILES["gmail"]) as sim:
        assert sim.port > 0
        refused, reply = await send_one(sim.port)
        assert refused == {}
        (kept,) = sim.messages
        assert reply.startswith("2.0.0 OK")
        assert kept.queue_id in reply
        assert "gsmtp" in reply
        assert kept.data == MESSAGE
        assert (kept.peer_ip, kept.mail_from, kept.rcpt_tos) == (
            "127.0.0.2",
            "news@sender.test",
            ("bob@isp.test",),
        )
        stats = sim.counters.for_ip("127.0.0.2")
        assert (stats.messages_accepted, stats.connections_opened, stats.concurrent) == (1, 1, 0)


@pytest.mark.slow
async def test_refuses_unknown_users_and_full_mailboxes_per_recipient() -> None:
    """unknown* and listed users get 550 5.1.1, full* gets 452 4.2.2; others are accepted."""
    profile = dataclasses.replace(BASE, unknown_users=frozenset({"carol"}))
    async with IspSimulator(profile) as sim:
        rcpts = ("bob@isp.test", "unknown7@isp.test", "carol@isp.test", "full1@isp.test")
        refused, _ = await send_one(sim.port, rcpts=rcpts)
        assert {r: (v.code, v.message[:5]) for r, v in refused.items()} == {
            "unknown7@isp.test": (550, "5.1.1"),
            "carol@isp.test": (550, "5.1.1"),
            "full1@isp.test": (452, "4.2.2"),
        }
        assert sim.messages[0].rcpt_tos == ("bob@isp.test",)
        stats = sim.counters.for_ip("127.0.0.2")
        assert stats.rejected == {"550 5.1.1": 2, "452 4.2.2": 1}
        assert stats.recipients_accepted == 1


@pytest.mark.slow
async def test_message_rate_defers_per_source_ip_and_counters_prove_it() -> None:
    """With 3 messages per 60 s, each source IP gets 3 accepted and 450 4.7.28 after that."""
    profile = dataclasses.replace(BASE, message_rate=Rate(3, 60))
    async with IspSimulator(profile) as sim:
        for source in ("127.0.0.2", "127.0.0.3"):
            smtp = client(sim.port, source)
            deferrals = []
            async with smtp:
                for _ in range(5):
                    try:
                        await smtp.sendmail("news@sender.test", ["bob@isp.test"], MESSAGE)
                    except aiosmtplib.SMTPSenderRefused as exc:
                        deferrals.append((exc.code, exc.message[:6]))
                        await smtp.rset()
            assert deferrals == [(450, "4.7.28")] * 2
        snap = sim.counters.snapshot()
        for source in ("127.0.0.2", "127.0.0.3"):
            assert snap[source].messages_accepted == 3
            assert snap[source].rejected == {"450 4.7.28": 2}
            assert snap[source].max_in_window(60) == 3


@pytest.mark.slow
async def test_a_421_rate_reply_closes_the_connection() -> None:
    """Yahoo-style 421 4.7.0 [TSS04] deferral is followed by the server hanging up."""
    profile = dataclasses.replace(BUILTIN_PROFILES["yahoo"], message_rate=Rate(1, 60))
    async with IspSimulator(profile) as sim:
        smtp = client(sim.port)
        await smtp.connect()
        await smtp.sendmail("news@sender.test", ["bob@isp.test"], MESSAGE)
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as info:
            await smtp.sendmail("news@sender.test", ["bob@isp.test"], MESSAGE)
        assert info.value.code == 421
        assert "[TSS04]" in info.value.message
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await smtp.noop()
        smtp.close()
        assert sim.counters.for_ip("127.0.0.2").rejected_with(421) == 1


@pytest.mark.slow
async def test_connection_rate_refuses_at_connect_with_421() -> None:
    """Beyond 2 connections per 60 s from one IP the banner is a 421; another IP is fine."""
    profile = dataclasses.replace(BASE, connection_rate=Rate(2, 60))
    async with IspSimulator(profile) as sim:
        for _ in range(2):
            await send_one(sim.port)
        with pytest.raises(aiosmtplib.SMTPConnectError, match="421"):
            await client(sim.port).connect()
        await send_one(sim.port, "127.0.0.3")
        stats = sim.counters.for_ip("127.0.0.2")
        assert (stats.connections_opened, stats.rejected) == (3, {"421 4.7.0": 1})


@pytest.mark.slow
async def test_concurrent_connections_per_ip_are_capped_and_observed() -> None:
    """With max 2 per IP the third simultaneous connection gets 421; max_concurrent shows 3."""
    profile = dataclasses.replace(BASE, max_connections_per_ip=2)
    async with IspSimulator(profile) as sim:
        held = [client(sim.port) for _ in range(2)]
        for smtp in held:
            await smtp.connect()
        with pytest.raises(aiosmtplib.SMTPConnectError, match="421"):
            await client(sim.port).connect()
        await send_one(sim.port, "127.0.0.3")
        for smtp in held:
            await smtp.quit()
        for _ in range(100):  # the server notices the QUITs on its own schedule
            if sim.counters.for_ip("127.0.0.2").concurrent == 0:
                break
            await asyncio.sleep(0.01)
        await send_one(sim.port)  # room again once they closed
        snap = sim.counters.snapshot()
        assert snap["127.0.0.2"].max_concurrent == 3
        assert snap["127.0.0.2"].rejected_with(421) == 1
        assert snap["127.0.0.3"].max_concurrent == 1


@pytest.mark.slow
async def test_blocked_ips_get_554_at_connect_or_550_at_rcpt() -> None:
    """The blocker refuses the banner with 554 5.7.1; Outlook-style blocks at RCPT."""
    async with IspSimulator("blocker") as sim:
        with pytest.raises(aiosmtplib.SMTPConnectError, match=r"554.*5\.7\.1"):
            await client(sim.port).connect()
        assert sim.counters.for_ip("127.0.0.2").rejected == {"554 5.7.1": 1}
    outlook = dataclasses.replace(BUILTIN_PROFILES["outlook"], blocked_networks=("127.0.0.3",))
    async with IspSimulator(outlook) as sim:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
            await send_one(sim.port, "127.0.0.3")
        (refusal,) = info.value.recipients
        assert refusal.code == 550
        assert "(S3150)" in refusal.message
        assert (await send_one(sim.port, "127.0.0.2"))[0] == {}


@pytest.mark.slow
async def test_greylisting_defers_the_first_attempt_then_accepts_after_the_delay() -> None:
    """451 4.7.1 for a new triplet, still 451 before the delay, 250 once it has passed."""
    profile = dataclasses.replace(BASE, greylist_delay=0.3)
    async with IspSimulator(profile) as sim:
        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
                await send_one(sim.port)
            assert info.value.recipients[0].code == 451
        await asyncio.sleep(0.35)
        assert (await send_one(sim.port))[0] == {}
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await send_one(sim.port, sender="other@sender.test")
        stats = sim.counters.for_ip("127.0.0.2")
        assert (stats.messages_accepted, stats.rejected) == (1, {"451 4.7.1": 3})


@pytest.mark.slow
async def test_slow_banner_delays_the_greeting() -> None:
    """A profile with banner_delay makes the 220 arrive that much later."""
    profile = dataclasses.replace(BASE, banner_delay=0.3)
    async with IspSimulator(profile) as sim:
        smtp = client(sim.port)
        started = time.monotonic()
        await smtp.connect()
        assert time.monotonic() - started >= 0.28
        await smtp.quit()


@pytest.mark.slow
async def test_flaky_profile_hangs_up_after_n_commands() -> None:
    """With drop_after_commands=2 and probability 1 the 2nd command gets no answer, only EOF."""
    profile = dataclasses.replace(BASE, drop_after_commands=2, drop_probability=1.0)
    async with IspSimulator(profile) as sim:
        smtp = client(sim.port)
        await smtp.connect()
        await smtp.ehlo()
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await smtp.mail("news@sender.test")
        smtp.close()
        await asyncio.sleep(0.05)
        stats = sim.counters.for_ip("127.0.0.2")
        assert (stats.dropped, stats.messages_accepted, stats.concurrent) == (1, 0, 0)


@pytest.mark.slow
async def test_starttls_with_the_generated_certificate_and_extensions() -> None:
    """EHLO offers SIZE, PIPELINING and STARTTLS; TLS verifies against the sim's own cert."""
    async with IspSimulator(BASE) as sim:
        assert sim.cert is not None
        smtp = client(sim.port)
        async with smtp:
            await smtp.ehlo()
            for ext in ("size", "pipelining", "starttls"):
                assert smtp.supports_extension(ext), ext
            assert smtp.esmtp_extensions["size"] == str(BASE.max_message_size)
            await smtp.starttls(tls_context=sim.cert.client_context())
            await smtp.sendmail("news@sender.test", ["bob@isp.test"], MESSAGE)
        assert sim.messages[0].tls
        assert sim.counters.for_ip("127.0.0.2").tls_sessions == 1


@pytest.mark.slow
async def test_store_is_bounded_and_maildir_gets_every_message(tmp_path: Path) -> None:
    """Memory keeps the last N; the Maildir has one complete file per accepted message."""
    async with IspSimulator(BASE, keep=2, maildir=tmp_path) as sim:
        for n in range(3):
            await send_one(sim.port, rcpts=(f"user{n}@isp.test",))
        assert [m.rcpt_tos[0] for m in sim.messages] == ["user1@isp.test", "user2@isp.test"]
    files = sorted((tmp_path / "new").iterdir())
    assert len(files) == 3
    assert not any((tmp_path / "tmp").iterdir())
    assert files[0].read_bytes() == b"Return-Path: <news@sender.test>\r\n" + MESSAGE


@pytest.mark.slow
async def test_stop_hangs_up_on_idle_clients() -> None:
    """Leaving the context closes connections still open, so shutdown never hangs."""
    sim = IspSimulator(BASE)
    await sim.start()
    smtp = client(sim.port)
    await smtp.connect()
    await sim.stop()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await smtp.noop()
    smtp.close()
    assert sim.counters.for_ip("127.0.0.2").concurrent == 0


def test_threaded_variant_serves_sync_clients_and_counts_live() -> None:
    """ThreadedIspSimulator works with a blocking client; counters read from this thread."""
    with ThreadedIspSimulator(BASE) as sim:
        with smtplib.SMTP("127.0.0.1", sim.port, source_address=("127.0.0.3", 0)) as smtp:
            smtp.sendmail("news@sender.test", ["bob@isp.test"], MESSAGE)
            assert sim.counters.for_ip("127.0.0.3").concurrent == 1
        assert sim.counters.for_ip("127.0.0.3").messages_accepted == 1
        assert len(sim.messages) == 1


@pytest.mark.slow
def test_only_loopback_addresses_are_allowed() -> None:
    """Listening or reporting to a non-loopback address is refused before anything binds."""
    with pytest.raises(ConfigError, match="not a loopback address"):
        IspSimulator(BASE, host="0.0.0.0")
    with pytest.raises(ConfigError, match="not a loopback address"):
        IspSimulator(BASE, report_to=("192.0.2.1", 25))


@pytest.mark.slow
async def test_rcpt_and_data_replies_refuse_by_recipient_pattern() -> None:
    """A profile's rcpt_replies answer RCPT TO, its data_replies the end of DATA."""
    profile = IspProfile(
        "rules",
        rcpt_replies=(
            ("policy*", "550 5.7.1 <{rcpt}>: Recipient address rejected: Access denied"),
        ),
        data_replies=(("content*", "554 5.7.1 Message rejected: content policy violation"),),
    )
    async with IspSimulator(profile, port=0) as sim:
        refused, _ = await send_one(sim.port, rcpts=("policy1@isp.test", "bob@isp.test"))
        assert refused["policy1@isp.test"].code == 550
        assert "Access denied" in refused["policy1@isp.test"].message
        with pytest.raises(aiosmtplib.SMTPDataError) as err:
            await send_one(sim.port, rcpts=("content1@isp.test",))
        assert err.value.code == 554
        assert len(sim.messages) == 1
        assert sim.counters.for_ip("127.0.0.2").rejected == {"550 5.7.1": 1, "554 5.7.1": 1}


def test_rcpt_and_data_replies_read_from_toml() -> None:
    """[rcpt_replies] and [data_replies] are tables of glob = reply; other values are refused."""
    from acctpipe.sim.profiles import profile_from_toml

    profile = profile_from_toml(
        'name = "x"\n[rcpt_replies]\n"policy*" = "550 5.7.1 no"\n'
        '[data_replies]\n"content*" = "554 5.7.1 spam"\n'
    )
    assert profile.rcpt_replies == (("policy*", "550 5.7.1 no"),)
    assert profile.data_replies == (("content*", "554 5.7.1 spam"),)
    with pytest.raises(ConfigError, match="rcpt_replies: expected a table"):
        profile_from_toml('name = "x"\nrcpt_replies = ["550"]\n')

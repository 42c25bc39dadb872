"""Delivery under faults: bad throttles, unsignable mail, hang-ups, outages, stops, relaying."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiosmtplib
import pytest

from acctpipe.sim.profile import IspProfile, Replies
from acctpipe.sim.server import IspSimulator
from mta.config import parse_config_text
from mta.config.values import parse_rate
from mta.delivery.routing import StaticResolver
from mta.delivery.signing import generate_key
from mta.node.process import MtaServer
from mta.node.runtime import Mta, MtaOptions
from mta.spool.durable import Spool
from tests.mta._mta import ACCT, rows, running_mta, send, settled, until

pytestmark = pytest.mark.slow  # every test here starts an MTA or the ISP simulator


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_zero_rate_holds_its_queue_and_nothing_else(tmp_path: Path) -> None:
    """max-msg-rate / max-conn-rate 0 pause one destination; every other keeps flowing."""
    async with IspSimulator("default") as sim:
        config = (
            f"<domain stopped.example>\n route 127.0.0.1:{sim.port}\n max-msg-rate 0/h\n"
            " max-conn-rate 0/h\n</domain>\n"
            f"<domain *>\n route 127.0.0.1:{sim.port}\n</domain>\n"
        )
        async with running_mta(config, tmp_path) as mta:
            await send(mta, "a@stopped.example")
            for i in range(3):
                await send(mta, f"u{i}@other.example")
            await until(lambda: len(sim.messages) == 3)
            await asyncio.sleep(0.3)
            scheduler = mta.engine.scheduler.task
            assert scheduler is not None
            assert not scheduler.done()
            assert mta.engine.queues[("stopped.example", "default")].queued == 1
    assert all(m.rcpt_tos[0].endswith("other.example") for m in sim.messages)


async def test_mail_dkim_cannot_sign_is_sent_unsigned_not_stranded(tmp_path: Path) -> None:
    """No From for a '*' key: the message goes out unsigned; nothing is left in active/."""
    pem, _ = generate_key("s1", "sender.test")
    (tmp_path / "s1.pem").write_bytes(pem)
    async with IspSimulator("default") as sim:
        config = f"domain-key s1,*,{tmp_path / 's1.pem'}\n"
        config += f"<domain *>\n route 127.0.0.1:{sim.port}\n dkim-sign yes\n</domain>\n"
        async with running_mta(config, tmp_path / "data") as mta:
            await send(mta, "ann@example.com", raw=b"To: ann\r\nSubject: no from\r\n\r\nhi\r\n")
            await send(mta, "cy@example.com")
            await until(settled(mta, 2))
            assert mta.spool.counts()["active"] == 0
    signed = {m.rcpt_tos[0]: m.data.startswith(b"DKIM-Signature:") for m in sim.messages}
    assert signed == {"ann@example.com": False, "cy@example.com": True}


async def test_client_hanging_up_after_the_dot_still_gets_its_message_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message whose spool write finishes after the client left is queued and delivered."""
    real = Spool.accept_many

    def slow(self: Spool, items: list[tuple[bytes, object, str | None]]) -> list[str]:
        time.sleep(0.4)  # a busy disk
        return real(self, items)  # type: ignore[arg-type]

    monkeypatch.setattr(Spool, "accept_many", slow)
    async with IspSimulator("default") as sim:
        text = ACCT + "smtp-listener 127.0.0.1:0\n<source 127.0.0.1/32>\n"
        text += f" always-allow-relaying yes\n</source>\n<domain *>\n route 127.0.0.1:{sim.port}\n"
        server = MtaServer(parse_config_text(text + "</domain>\n"), data_dir=tmp_path,
                           resolver=StaticResolver())  # fmt: skip
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.listeners[0].port)
            commands = ["EHLO c.test", "MAIL FROM:<a@sender.test>", "RCPT TO:<ann@example.com>",
                        "DATA"]  # fmt: skip
            await asyncio.wait_for(reader.readline(), 5)
            for command in commands:
                writer.write(command.encode() + b"\r\n")
                line = await asyncio.wait_for(reader.readline(), 5)
                while line[3:4] == b"-":
                    line = await asyncio.wait_for(reader.readline(), 5)
            writer.write(b"Subject: x\r\n\r\nhi\r\n.\r\n")
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.close()
            await until(lambda: len(sim.messages) == 1, timeout=10)
        finally:
            await server.stop(grace=2)


async def test_returned_mail_address_is_no_way_to_relay(tmp_path: Path) -> None:
    """deliver-unmatched-email yes never relays to other domains for a non-relaying client."""
    async with IspSimulator("default") as sim:
        text = ACCT + "smtp-listener 127.0.0.1:0\n<source 127.0.0.1/32>\n"
        text += " always-allow-relaying no\n</source>\n<bounce-processor>\n"
        text += " deliver-unmatched-email yes\n <address-list>\n  address /^bounces\\+/\n"
        text += f" </address-list>\n</bounce-processor>\n<domain *>\n route 127.0.0.1:{sim.port}\n"
        server = MtaServer(parse_config_text(text + "</domain>\n"), data_dir=tmp_path,
                           resolver=StaticResolver())  # fmt: skip
        await server.start()
        try:
            await aiosmtplib.send(
                b"Subject: buy\r\n\r\nspam\r\n",
                sender="s@spammer.example",
                recipients=["bounces+x@victim.example"],
                hostname="127.0.0.1",
                port=server.listeners[0].port,
                start_tls=False,
                timeout=5,
            )
            await asyncio.sleep(1.0)
        finally:
            await server.stop(grace=2)
    assert sim.messages == []


async def test_graceful_stops_are_not_counted_as_crashes(tmp_path: Path) -> None:
    """Stopping while a slow receiver holds a message puts it back in incoming/, not bad/."""
    async with IspSimulator(IspProfile("slow", data_delay=3.0)) as sim:
        config = parse_config_text(ACCT + f"<domain *>\n route 127.0.0.1:{sim.port}\n</domain>\n")
        for round_ in range(3):
            mta = Mta(config, MtaOptions(tmp_path, resolver=StaticResolver()))
            await mta.start()
            if round_ == 0:
                await send(mta, "ann@example.com")
            await until(lambda m=mta: m.spool.counts()["active"] == 1, timeout=10)  # type: ignore[misc]
            await mta.stop(grace=0.2)
            assert mta.spool.counts()["incoming"] == 1
        assert mta.spool.read_envelope("incoming", mta.spool.ids("incoming")[0]).crashes == 0


async def test_one_outage_is_one_retry_step_and_one_tq_record(tmp_path: Path) -> None:
    """Ten connections failing together move the queue one retry-after step, not four."""
    config = f"<domain *>\n route 127.0.0.1:{_closed_port()}\n max-smtp-out 10\n"
    config += " retry-after 1m,10m,1h\n</domain>\n"
    async with running_mta(config, tmp_path) as mta:
        await asyncio.gather(*(send(mta, f"u{i}@example.com") for i in range(20)))
        queue = mta.engine.queues[("example.com", "default")]
        await until(lambda: queue.connection_failures >= 1 and queue.connections == 0)
        assert queue.connection_failures == 1
        assert 50 < queue.retry_at - time.time() <= 60
        assert len(rows(mta, "tq")) == 1


async def test_421_mid_session_holds_the_queue(tmp_path: Path) -> None:
    """A receiver answering 421 is not hammered with a new connection per waiting message."""
    profile = IspProfile(
        "deferring",
        message_rate=parse_rate("1/m"),
        message_burst=1,
        replies=Replies(message_rate="421 4.7.0 [TSS04] Messages from {ip} temporarily deferred"),
    )
    async with IspSimulator(profile) as sim:
        config = f"<domain *>\n route 127.0.0.1:{sim.port}\n max-smtp-out 2\n"
        async with running_mta(config + " retry-after 10m\n</domain>\n", tmp_path) as mta:
            await asyncio.gather(*(send(mta, f"u{i}@example.com") for i in range(50)))
            await until(lambda: len(rows(mta, "tq")) >= 1)
            await asyncio.sleep(1.0)
            opened = sim.counters.for_ip("127.0.0.1").connections_opened
    assert opened <= 4

"""Suppressions inside the MTA: refused at RCPT, dropped with a record, checked before sending;
throttle overrides applied live."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acctpipe.sim.server import IspSimulator
from mta.config import parse_config_text
from mta.delivery.queue import Override
from mta.delivery.routing import StaticResolver
from mta.node.process import MtaServer
from mta.suppression import SuppressionEntry, SuppressionSet
from tests.mta._mta import ACCT, rows, running_mta, send, settled, until


def test_scopes_removal_and_expiry() -> None:
    """Global, sender-domain and list scopes apply; removal and expiry lift the entry."""
    s = SuppressionSet()
    s.apply(
        [
            SuppressionEntry("Ann@Example.com", "global", "hard-bounce"),
            SuppressionEntry("bob@example.com", "domain:news.test", "complaint"),
            SuppressionEntry("cy@example.com", "list:spring", "unsubscribe"),
            SuppressionEntry("dee@example.com", reason="soft-bounce-repeated", expires_at=100.0),
        ]
    )
    assert s.reason("ann@example.com", now=0) == "hard-bounce"
    assert s.reason("bob@example.com", sender="x@news.test", now=0) == "complaint"
    assert s.reason("bob@example.com", sender="x@other.test", now=0) is None
    assert s.reason("cy@example.com", job_id="spring", now=0) == "unsubscribe"
    assert s.reason("dee@example.com", now=99) == "soft-bounce-repeated"
    assert s.reason("dee@example.com", now=100) is None
    s.apply([SuppressionEntry("ann@example.com", removed=True)])
    assert s.reason("ann@example.com", now=0) is None
    assert len(s) == 3


def test_a_malformed_address_is_never_suppressed() -> None:
    """A normaliser that refuses an address (ValueError) means: not suppressed, no crash."""

    def strict(address: str) -> str:
        if "@" not in address:
            raise ValueError(address)
        return address.lower()

    s = SuppressionSet(strict)
    s.apply([SuppressionEntry("nonsense"), SuppressionEntry("a@b.test")])
    assert s.reason("nonsense") is None
    assert s.reason("A@B.test") == "manual"


_LISTEN = """
smtp-listener 127.0.0.1:0
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["reject", "drop"])
async def test_suppressed_recipient_refused_at_rcpt_or_dropped_with_a_record(
    tmp_path: Path, mode: str
) -> None:
    """reject: 550 5.7.1 at RCPT with the reason; drop: accepted, not sent, a b record."""
    async with IspSimulator("default") as sim:
        text = ACCT + _LISTEN + f"suppressed-recipients {mode}\n"
        text += f"<domain *>\n    route 127.0.0.1:{sim.port}\n</domain>\n"
        server = MtaServer(parse_config_text(text), data_dir=tmp_path, resolver=StaticResolver())
        server.mta.suppressions.apply([SuppressionEntry("gone@example.com", reason="hard-bounce")])
        await server.start()
        try:
            port = server.listeners[0].port
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as c:
                message = "Subject: x\r\n\r\nhi\r\n"
                errors, _ = await c.sendmail(
                    "news@sender.test", ["ok@example.com", "gone@example.com"], message
                )
            await until(lambda: server.mta.engine.totals["delivered"] == 1)
            b = rows(server.mta, "b")
        finally:
            await server.stop()
    assert [m.rcpt_tos for m in sim.messages] == [("ok@example.com",)]
    if mode == "reject":
        assert errors["gone@example.com"].code == 550
        assert "suppressed (hard-bounce)" in errors["gone@example.com"].message
        assert b == []
    else:
        assert errors == {}
        assert b[0]["rcpt"] == "gone@example.com"
        assert b[0]["dsnDiag"] == "acctpipe;suppressed (hard-bounce)"


@pytest.mark.slow
async def test_suppressed_after_queueing_is_not_sent(tmp_path: Path) -> None:
    """An address suppressed while its message waits is bounced (record) before the attempt."""
    async with (
        IspSimulator("default") as sim,
        running_mta(f"<domain *>\n    route 127.0.0.1:{sim.port}\n</domain>\n", tmp_path) as mta,
    ):
        mta.engine.held = True
        await send(mta, "late@example.com")
        mta.suppressions.apply([SuppressionEntry("late@example.com", reason="complaint")])
        mta.engine.held = False
        mta.engine.wake()
        await until(lambda: mta.engine.totals["suppressed"] == 1)
        await asyncio.sleep(0.2)
        assert sim.messages == []
        assert rows(mta, "b")[0]["dsnDiag"] == "acctpipe;suppressed (complaint)"
        assert mta.spool.counts()["incoming"] == 0


@pytest.mark.slow
async def test_throttle_override_slows_pauses_and_lapses(tmp_path: Path) -> None:
    """A rate override caps the queue; a pause holds it; an expired override is lifted."""
    async with (
        IspSimulator("default") as sim,
        running_mta(f"<domain *>\n    route 127.0.0.1:{sim.port}\n</domain>\n", tmp_path) as mta,
    ):
        await send(mta, "first@example.com")
        await until(settled(mta, 1))
        queue = mta.engine.queues[("example.com", "default")]
        mta.set_overrides([Override("example.com", rate=2.0, reason="test")])
        assert queue.msg_rate(time.time()).per_second == 2.0
        mta.set_overrides([Override("example.com", paused_until=time.time() + 0.6)])
        assert queue.msg_rate(time.time()).is_unlimited
        await send(mta, "held@example.com")
        await asyncio.sleep(0.3)
        assert len(sim.messages) == 1
        await until(settled(mta, 2))
        mta.set_overrides([Override("example.com", rate=1.0, expires_at=time.time() - 1)])
        assert queue.override_rate is None


@pytest.mark.slow
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["global", "domain:sender.test", "list:j1"]),
            st.from_regex(r"[a-z]{1,8}@[a-z]{1,6}\.test", fullmatch=True),
            st.sampled_from(["hard-bounce", "complaint", "manual", "unsubscribe"]),
            st.one_of(st.none(), st.floats(min_value=1e9, max_value=4e9)),
        ),
        max_size=40,
    ),
    st.integers(min_value=0, max_value=2**62),
)
@settings(max_examples=50, deadline=None)
def test_a_snapshot_restores_the_same_set(
    rows: list[tuple[str, str, str, float | None]], cursor: int
) -> None:
    """A set saved with to_bytes and loaded into a new one answers every lookup the same,
    with the same cursor; a cut-short snapshot is refused, not half loaded."""
    original = SuppressionSet()
    original.apply(SuppressionEntry(a, s, r, e) for s, a, r, e in rows)
    original.cursor = cursor
    data = original.to_bytes()
    copy = SuppressionSet()
    copy.load_bytes(data)
    assert copy.cursor == cursor
    assert len(copy) == len(original)
    for _, address, _, _ in rows:
        for sender, job in (("x@sender.test", "j1"), ("x@other.test", None)):
            now = 2e9
            want = original.reason(address, sender=sender, job_id=job, now=now)
            assert copy.reason(address, sender=sender, job_id=job, now=now) == want
    if rows:
        with pytest.raises(ValueError, match="truncated"):
            SuppressionSet().load_bytes(data[:-1])

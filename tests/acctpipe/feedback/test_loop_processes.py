"""The loop end to end, with real processes and sockets, on SQLite and PostgreSQL.

`acctpipe mta` delivers to a simulated ISP; the ISP hard-bounces one recipient and
sends an ARF complaint about another back to the MTA's FBL address; `acctpipe tail`
ingests the accounting file and runs the policy; both addresses are suppressed; the
MTA, following the store's change log, refuses the next message to them at RCPT.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import pytest

from acctpipe.sim.server import IspSimulator
from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.suppressions import SuppressionStore
from tests.mta._mta import until

_CONFIG = """
host-name mta.sender.test
smtp-listener 127.0.0.1:0
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
<feedback-loop-processor>
    <address-list>
        address fbl@sender.test
    </address-list>
</feedback-loop-processor>
<acct-file acct/acct.csv>
    records d,b,t,tq,f,rb
</acct-file>
<domain *>
    route 127.0.0.1:{port}
    max-rcpt-per-message 1
</domain>
"""

MESSAGE = "From: news@sender.test\r\nTo: {to}\r\nSubject: news\r\n\r\nHello.\r\n"


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "acctpipe.cli", *args], env=env, stdout=sink, stderr=sink
        )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child processes, stopped with SIGTERM (then killed) when the test ends."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _rows(path: Path, kind: str) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["type"] == kind]


async def _send(port: int, *rcpts: str) -> dict[str, int]:
    """Send one message; return each refused recipient's reply code."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=10) as c:
        try:
            errors, _ = await c.sendmail("news@sender.test", list(rcpts), MESSAGE.format(to="x"))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return {r.recipient: r.code for r in exc.recipients}
    return {r: e.code for r, e in errors.items()}


@pytest.mark.slow
async def test_bounce_and_complaint_suppressed_and_refused_at_rcpt(
    tmp_path: Path, db_url: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    """A hard bounce and an ARF complaint become suppressions the MTA enforces at RCPT."""
    data = tmp_path / "data"
    async with IspSimulator("default") as sim:
        config = tmp_path / "mta.conf"
        config.write_text(_CONFIG.format(port=sim.port))
        processes.append(
            _spawn(
                ["mta", "--config", str(config), "--data-dir", str(data),
                 "--database-url", db_url],
                tmp_path / "mta.log",
            )
        )  # fmt: skip
        state = data / "mta.json"
        await until(lambda: state.exists() or processes[0].poll() is not None, timeout=60)
        assert processes[0].poll() is None, (tmp_path / "mta.log").read_text()
        port = int(json.loads(state.read_text())["listeners"][0]["port"])
        sim.report_to = ("127.0.0.1", port)
        (data / "acct").mkdir(parents=True, exist_ok=True)
        processes.append(
            _spawn(
                ["tail", "--db", str(tmp_path / "events.duckdb"), "--database-url", db_url,
                 "--config", str(config), "--rescan", "0.2", str(data / "acct")],
                tmp_path / "tail.log",
            )
        )  # fmt: skip

        assert await _send(port, "unknown-bob@example.com", "ann@example.com") == {}
        acct = data / "acct" / "acct.csv"
        await until(lambda: len(_rows(acct, "d")) == 1 and len(_rows(acct, "b")) == 1)
        delivered = next(m for m in sim.messages if m.rcpt_tos == ("ann@example.com",))
        await sim.send_arf(delivered, "fbl@sender.test", redact=True)
        await until(lambda: len(_rows(acct, "f")) == 1)

        engine = make_engine(db_url)
        try:
            store = SuppressionStore(engine)
            await until(
                lambda: (
                    bool(store.check("unknown-bob@example.com"))
                    and bool(store.check("ann@example.com"))
                ),
                timeout=30,
            )
            reasons = {s.address: s.reason for s in store.iter_all()}
        finally:
            engine.dispose()
        assert reasons == {"unknown-bob@example.com": "hard-bounce", "ann@example.com": "complaint"}

        async def refused() -> dict[str, int]:
            return await _send(port, "unknown-bob@example.com", "ann@example.com", "cy@example.com")

        for _ in range(50):
            got = await refused()
            if len(got) == 2:
                break
            await asyncio.sleep(0.2)
        assert got == {"unknown-bob@example.com": 550, "ann@example.com": 550}
        # Delivery is asynchronous: the copy to cy from the last message arrives shortly.
        await until(lambda: any(m.rcpt_tos == ("cy@example.com",) for m in sim.messages))
        tail_log = (tmp_path / "tail.log").read_text()
        assert processes[1].poll() is None, tail_log

"""`acctpipe mta` as a process: AUTH and pickup in, simulator out, returns back, HUP, TERM."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from acctpipe.sim.server import IspSimulator
from tests.mta._mta import until

_CONFIG = """
host-name mta.sender.test
smtp-listener 127.0.0.1:0
http-mgmt-port 0
http-admin-key server-admin-key-0123456789
<source 127.0.0.1/32>
    always-allow-relaying no
</source>
<source {{auth}}>
    always-allow-relaying yes
    verp-default yes
</source>
<smtp-user app>
    password s3cret
    source {{auth}}
</smtp-user>
<bounce-processor>
    <address-list>
        address /^bounces\\+.*@sender\\.test$/
    </address-list>
</bounce-processor>
<feedback-loop-processor>
    <address-list>
        address fbl@sender.test
    </address-list>
</feedback-loop-processor>
<pickup pickup>
    scan-interval 1s
</pickup>
<acct-file acct.csv>
    records d,b,t,tq,r,rb,f
</acct-file>
<rejectlog-file rejects.csv>
</rejectlog-file>
<domain *>
    route 127.0.0.1:{port}
    max-msg-rate {rate}
</domain>
"""

MESSAGE = "From: News <news@sender.test>\r\nTo: {to}\r\nSubject: hi\r\n\r\nHello.\r\n"


def _rows(data: Path, kind: str) -> list[dict[str, str]]:
    path = data / "acct.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["type"] == kind]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The MTA's data directory."""
    return tmp_path / "data"


class _Process:
    def __init__(self, config: Path, data: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "acctpipe.cli", "mta", "--config", str(config),
             "--data-dir", str(data)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self.data = data

    async def ready(self) -> dict[str, object]:
        state = self.data / "mta.json"
        await until(lambda: state.exists() or self.proc.poll() is not None, timeout=30)
        assert self.proc.poll() is None, self.stderr()
        return dict(json.loads(state.read_text()))

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return (
            self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code


@pytest.fixture
def mta_process(tmp_path: Path, data: Path) -> Iterator[list[_Process]]:
    """Started MTA processes, stopped (SIGTERM, or killed) at the end of the test."""
    started: list[_Process] = []
    yield started
    for proc in started:
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait(timeout=10)
        if proc.proc.stderr is not None:
            proc.proc.stderr.close()


@pytest.mark.slow
async def test_smtp_auth_and_pickup_in_simulator_out_returns_back_reload_and_stop(
    tmp_path: Path, data: Path, mta_process: list[_Process]
) -> None:
    """The whole MTA process: both ways in, delivery, rb/f from returns, SIGHUP, SIGTERM."""
    async with IspSimulator("default") as sim:
        config = tmp_path / "mta.conf"
        config.write_text(_CONFIG.format(port=sim.port, rate="100/s"))
        proc = _Process(config, data)
        mta_process.append(proc)
        state = await proc.ready()
        listeners = state["listeners"]
        assert isinstance(listeners, list)
        port = int(listeners[0]["port"])
        sim.report_to = ("127.0.0.1", port)

        # In by SMTP: unauthenticated relaying is refused, AUTH over STARTTLS relays.
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=True, validate_certs=False
        ) as c:
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
                await c.sendmail("news@sender.test", ["x@example.com"], MESSAGE.format(to="x"))
            await c.login("app", "s3cret")
            await c.sendmail("bounces@sender.test", ["ann@example.com"], MESSAGE.format(to="ann"))
        # In by pickup: a complete file renamed into the folder.
        pickup = data / "pickup"
        staged = pickup / ".job.tmp"
        staged.write_bytes(
            b"x-sender: news@sender.test\r\nx-receiver: bob@example.org\r\n"
            + MESSAGE.format(to="bob").encode()
        )
        staged.rename(pickup / "job.eml")

        await until(lambda: len(_rows(data, "d")) == 2, timeout=30)
        by_rcpt = {m.rcpt_tos[0]: m for m in sim.messages}
        # VERP for the authenticated source: the return path carries the recipient.
        assert by_rcpt["ann@example.com"].mail_from == "bounces+ann=example.com@sender.test"
        assert by_rcpt["bob@example.org"].mail_from == "news@sender.test"
        assert {r["srcType"] for r in _rows(data, "d")} == {"smtp", "pickup"}
        rejects = (data / "rejects.csv").read_text()
        assert "550 5.7.1" in rejects
        assert "s3cret" not in rejects

        # Returns: an async bounce to the VERP address and an ARF to the FBL address.
        await sim.send_dsn(by_rcpt["ann@example.com"], "ann@example.com", "550 5.1.1 gone")
        await sim.send_arf(by_rcpt["bob@example.org"], "fbl@sender.test")
        await until(lambda: bool(_rows(data, "rb")) and bool(_rows(data, "f")), timeout=30)
        assert _rows(data, "rb")[0]["rcpt"] == "ann@example.com"
        assert _rows(data, "rb")[0]["bounceCat"] == "bad-mailbox"
        assert _rows(data, "f")[0]["feedbackType"] == "abuse"

        # Management: the queue is there; a bad config on SIGHUP is refused, a good one applies.
        mgmt = f"http://127.0.0.1:{state['mgmt_port']}"
        async with httpx.AsyncClient(base_url=mgmt, timeout=10) as http:
            queues = (await http.get("/queues")).json()["queues"]
            assert {q["queue"] for q in queues} == {"example.com", "example.org"}
            # The port's browser guards and admin key come from the config.
            assert (await http.get("/queues", headers={"Host": "evil.example"})).status_code == 421
            assert (await http.post("/queues/example.com/pause")).status_code == 401
            admin = {"Authorization": "Bearer server-admin-key-0123456789"}
            assert (await http.post("/queues/example.com/pause", headers=admin)).status_code == 200
            assert (await http.post("/queues/example.com/resume", headers=admin)).status_code == 200
            config.write_text("<domain *>\n    max-msg-rate fast\n</domain>\n")
            proc.proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            assert proc.proc.poll() is None
            config.write_text(_CONFIG.format(port=sim.port, rate="7/s"))
            proc.proc.send_signal(signal.SIGHUP)

            async def rate() -> float:
                found = (await http.get("/queues", params={"domain": "example.com"})).json()
                return float(found["queues"][0]["configured_msg_rate"])

            deadline = time.monotonic() + 20
            while await rate() != 7.0:
                assert time.monotonic() < deadline, "reload did not apply"
                await asyncio.sleep(0.2)

        assert proc.stop() == 0
        assert not (data / "mta.json").exists()

"""smtp-workers: several MTA processes on shared listeners, one spool and one set of files each."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from acctpipe.sim.profile import IspProfile
from acctpipe.sim.server import IspSimulator
from mta.config import parse_config_text
from mta.node.workers import adopt_orphans, for_worker, worker_file, worker_spool
from mta.spool.durable import Envelope, Spool
from tests.mta._mta import until

_CONFIG = """
host-name mta.sender.test
smtp-listener 127.0.0.1:{listen}
smtp-workers {workers}
http-mgmt-port 0
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
<acct-file acct.csv>
    records d,b
</acct-file>
<rejectlog-file rejects.csv>
</rejectlog-file>
<pickup pickup>
</pickup>
<domain *>
    route 127.0.0.1:{port}
    max-smtp-out 4
</domain>
"""
_SUBJECT = re.compile(rb"^Subject: (n\d+)\r?$", re.MULTILINE)


def test_worker_zero_keeps_the_configured_names_the_others_get_their_own() -> None:
    """Worker 0 is the single-process MTA; worker k writes NAME-wk.csv and has no extras."""
    config = parse_config_text(_CONFIG.format(listen=0, workers=2, port=25))
    assert for_worker(config, 0) is config
    second = for_worker(config, 1)
    assert [a.path for a in second.acct_files] == ["acct-w1.csv"]
    assert [r.path for r in second.reject_logs] == ["rejects-w1.csv"]
    assert second.pickups == ()
    assert second.http_mgmt_port is None
    assert worker_file("logs/acct.csv", 3) == "logs/acct-w3.csv"
    assert worker_spool(Path("/s"), 0) == Path("/s")
    assert worker_spool(Path("/s"), 2) == Path("/s/worker-2")


def test_worker_zero_adopts_the_spools_no_worker_runs_for(tmp_path: Path) -> None:
    """Messages a stopped worker left (in incoming, deferred, and active after a crash) are
    moved into the spool worker 0 delivers from; a running worker's spool is left alone."""
    root = tmp_path / "spool"
    Spool(root)
    kept = Spool(root / "worker-1")
    kept_id = kept.accept(b"x", Envelope("a@s.test", ["r@x.test"]))
    orphan = Spool(root / "worker-2")
    ids = [orphan.accept(b"m%d" % i, Envelope("a@s.test", [f"r{i}@x.test"])) for i in range(3)]
    assert orphan.take(ids[0])  # in active/ when the worker was killed
    orphan.defer(ids[1] if orphan.take(ids[1]) else "", time.time() + 60, "later")
    assert adopt_orphans(root, 2) == 3
    own = Spool(root)
    assert sorted(own.ids("incoming") + own.ids("deferred")) == sorted(ids)
    assert own.ids("deferred") == [ids[1]]
    assert own.read_envelope("incoming", ids[0]).crashes == 1
    assert kept.ids("incoming") == [kept_id]
    assert adopt_orphans(root, 2) == 0


class _Mta:
    """``acctpipe mta`` as a process."""

    def __init__(self, config: Path, data: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "acctpipe.cli", "mta", "--config", str(config),
             "--data-dir", str(data)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def ready(self) -> dict[str, object]:
        state = self.data / "mta.json"
        await until(lambda: state.exists() or self.proc.poll() is not None, timeout=30)
        assert self.proc.poll() is None
        return dict(json.loads(state.read_text()))

    def workers(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_bytes()
                except OSError:
                    continue
                if int(stat.rsplit(b")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(entry.name))
        return sorted(found)


@pytest.fixture
def processes() -> Iterator[list[_Mta]]:
    """MTAs started by a test, killed at its end if still running."""
    started: list[_Mta] = []
    yield started
    for mta in started:
        if mta.proc.poll() is None:
            mta.proc.kill()
            mta.proc.wait(timeout=10)


def _rows(data: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(data.glob("acct*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows += [r for r in csv.DictReader(f) if r["type"] == "d"]
    return rows


def _subjects(*sims: IspSimulator) -> set[str]:
    found = set()
    for sim in sims:
        for message in sim.messages:
            m = _SUBJECT.search(message.data)
            if m:
                found.add(m.group(1).decode())
    return found


async def _send(port: int, first: int, count: int, acknowledged: list[str]) -> None:
    """Send ``count`` messages on one connection; note each one answered 250."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        for n in range(first, first + count):
            body = f"From: a@sender.test\r\nTo: r@example.com\r\nSubject: n{n}\r\n\r\nhi\r\n"
            await smtp.sendmail("a@sender.test", [f"r{n}@example.com"], body)
            acknowledged.append(f"n{n}")


async def _fill(
    port: int, acknowledged: list[str], *, connections: int, each: int, base: int = 0
) -> None:
    await asyncio.gather(
        *(_send(port, base + i * each, each, acknowledged) for i in range(connections)),
        return_exceptions=True,  # a worker killed under a session: the rest carries on
    )


@pytest.mark.slow
async def test_two_workers_deliver_everything_once_and_stop_cleanly(
    tmp_path: Path, processes: list[_Mta]
) -> None:
    """Both workers take connections; each message is delivered and accounted once, in the
    worker's own file; mta.json names the supervisor; SIGTERM stops every process."""
    async with IspSimulator("default", keep=10_000) as sim:
        config = tmp_path / "mta.conf"
        config.write_text(_CONFIG.format(listen=0, workers=2, port=sim.port))
        mta = _Mta(config, tmp_path / "data")
        processes.append(mta)
        state = await mta.ready()
        assert state["pid"] == mta.proc.pid
        assert state["workers"] == 2
        port = int(state["listeners"][0]["port"])  # type: ignore[index]
        assert len(mta.workers()) == 2
        acknowledged: list[str] = []
        await _fill(port, acknowledged, connections=16, each=13)
        assert len(acknowledged) == 208
        await until(lambda: len(_rows(mta.data)) >= 208, timeout=60)
        rows = _rows(mta.data)
        assert sorted(r["rcpt"] for r in rows) == sorted(
            f"r{n[1:]}@example.com" for n in acknowledged
        )
        assert (mta.data / "acct.csv").exists()
        assert (mta.data / "acct-w1.csv").exists()
        assert _subjects(sim) == set(acknowledged)
        mta.proc.send_signal(signal.SIGTERM)
        assert mta.proc.wait(timeout=60) == 0
        assert not (mta.data / "mta.json").exists()
        assert mta.workers() == []


@pytest.mark.slow
async def test_kill_9_of_a_worker_and_of_the_supervisor_loses_no_acknowledged_message(
    tmp_path: Path, processes: list[_Mta]
) -> None:
    """kill -9 of one worker mid-delivery: the supervisor starts it again and it delivers what
    its spool holds. kill -9 of the supervisor takes the workers with it; a restart with one
    worker delivers every acknowledged message, the stopped worker's spool included."""
    slow = IspProfile("slow", data_delay=0.05)
    async with (
        IspSimulator(slow, keep=100_000) as first,
        IspSimulator("default", keep=100_000) as second,
    ):
        config = tmp_path / "mta.conf"
        config.write_text(_CONFIG.format(listen=0, workers=2, port=first.port))
        data = tmp_path / "data"
        mta = _Mta(config, data)
        processes.append(mta)
        state = await mta.ready()
        port = int(state["listeners"][0]["port"])  # type: ignore[index]
        await asyncio.sleep(5.5)  # past the early-death window: a killed worker is restarted
        acknowledged: list[str] = []
        await _fill(port, acknowledged, connections=8, each=20)
        await until(lambda: len(first.messages) >= 5, timeout=30)
        victim = mta.workers()[-1]
        os.kill(victim, signal.SIGKILL)
        await until(lambda: len(mta.workers()) == 2 and victim not in mta.workers(), timeout=30)
        await _fill(port, acknowledged, connections=4, each=10, base=1000)
        await until(lambda: len(first.messages) >= 10, timeout=30)
        os.kill(mta.proc.pid, signal.SIGKILL)
        mta.proc.wait(timeout=30)
        await until(lambda: mta.workers() == [] and not _alive(state), timeout=30)

        config.write_text(_CONFIG.format(listen=0, workers=1, port=second.port))
        (data / "mta.json").unlink(missing_ok=True)
        again = _Mta(config, data)
        processes.append(again)
        await again.ready()
        wanted = set(acknowledged)
        assert len(wanted) >= 150
        await until(lambda: wanted <= _subjects(first, second), timeout=90)
        assert not list((data / "spool").glob("worker-*/incoming/*.msg"))


def _alive(state: dict[str, object]) -> bool:
    pid = int(str(state["pid"]))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("cap", [1, 2, 3])
async def test_max_smtp_out_counts_for_the_whole_mta_not_per_worker(
    tmp_path: Path, processes: list[_Mta], cap: int
) -> None:
    """Two workers never have more than max-smtp-out sessions open at the sink together: 2 and
    3 are split (1+1, 2+1), 1 is a slot the workers take in turn. Every message arrives (no
    worker's mail is stranded), and worker 0's status shows its share and the total."""
    slow = IspProfile("slow", data_delay=0.03)
    async with IspSimulator(slow, keep=10_000) as sim:
        config = tmp_path / "mta.conf"
        text = _CONFIG.format(listen=0, workers=2, port=sim.port)
        text = text.replace("max-smtp-out 4", f"max-smtp-out {cap}\n    max-msg-per-connection 4")
        config.write_text(text)
        mta = _Mta(config, tmp_path / "data")
        processes.append(mta)
        state = await mta.ready()
        port = int(state["listeners"][0]["port"])  # type: ignore[index]
        acknowledged: list[str] = []
        await _fill(port, acknowledged, connections=12, each=6)
        assert len(acknowledged) == 72
        await until(lambda: _subjects(sim) == set(acknowledged), timeout=90)
        assert sim.counters.for_ip("127.0.0.1").max_concurrent <= cap
        await until(lambda: len(_rows(mta.data)) >= 72, timeout=30)
        for name in ("acct.csv", "acct-w1.csv"):  # each worker delivered its own spool's mail
            with (mta.data / name).open(newline="", encoding="utf-8") as f:
                assert any(r["type"] == "d" for r in csv.DictReader(f))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{state['mgmt_port']}", timeout=10
        ) as http:
            queues = (await http.get("/queues")).json()["queues"]
        [queue] = [q for q in queues if q["queue"] == "example.com"]
        assert queue["workers"] == 2
        assert queue["total_max_smtp_out"] == cap
        assert queue["max_smtp_out"] == {1: 1, 2: 1, 3: 2}[cap]

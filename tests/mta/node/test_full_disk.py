"""A full disk (a real one: a tiny tmpfs) delays mail and records, never strands or drops them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import pytest

from acctpipe.sim.server import IspSimulator
from mta.acct import Row, read_accounting
from mta.acct.acctfile import AccountingFile
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.errors import LocalError
from mta.node.process import MtaServer
from tests.mta._mta import ACCT, rows, running_mta, send, until
from tests.mta.node._disk import small_disk

N = 40  # rows enough to overflow the last page the accounting file already has


def _leftovers(spool: Path) -> list[Path]:
    return sorted(spool.rglob("*.new"))


@pytest.mark.slow
async def test_a_deferral_the_full_spool_cannot_save_is_queued_then_retried(
    tmp_path: Path,
) -> None:
    """A 4xx while the spool's disk is full: the message stays visible in its queue, is
    deferred as soon as space returns, and its attempt has exactly one ``t`` row."""
    with small_disk(tmp_path / "disk") as disk:
        spool = disk.path / "spool"
        async with IspSimulator("default") as sim:
            config = f"spool {spool}\n<domain *>\n route 127.0.0.1:{sim.port}\n"
            config += " retry-after 10m\n</domain>\n"
            async with running_mta(config, tmp_path / "data") as mta:
                mta.engine.held = True
                await send(mta, "full1@example.com")
                disk.fill()
                mta.engine.held = False
                mta.engine.wake()
                queue = mta.engine.queue_for(
                    mta.spool.read_envelope("incoming", mta.spool.ids("incoming")[0])
                )
                await until(lambda: queue.transient == 1)
                await asyncio.sleep(0.3)  # a few retries fail meanwhile
                assert [q.queued for q in mta.status().queues] == [1]
                assert mta.spool.counts()["deferred"] == 0
                assert _leftovers(spool) == []
                disk.free()
                await until(lambda: mta.spool.counts()["deferred"] == 1, timeout=5)
                assert [q.queued for q in mta.status().queues] == [1]
                assert mta.spool.counts()["active"] == 0
                assert len(rows(mta, "t")) == 1
    assert len(sim.messages) == 0


@pytest.mark.slow
async def test_records_wait_for_space_and_no_mail_is_taken_meanwhile(tmp_path: Path) -> None:
    """While accounting rows cannot be written: new mail gets 452 4.3.1, attempted messages
    stay in active/ (a crash would send them again), and once space returns every row
    is written, once."""
    with small_disk(tmp_path / "disk") as disk:
        async with IspSimulator("default") as sim:
            text = ACCT + f"spool {tmp_path / 'spool'}\nsmtp-listener 127.0.0.1:0\n"
            text += "<source 127.0.0.1>\n always-allow-relaying yes\n</source>\n"
            text += f"<domain *>\n route 127.0.0.1:{sim.port}\n</domain>\n"
            server = MtaServer(
                parse_config_text(text), data_dir=disk.path, resolver=StaticResolver()
            )
            await server.start()
            mta = server.mta
            try:
                mta.engine.held = True
                for i in range(N):
                    await send(mta, f"u{i}@example.com")
                await asyncio.sleep(0.3)  # the r rows reach the file
                disk.fill()
                mta.engine.held = False
                mta.engine.wake()
                await until(lambda: len(sim.messages) >= 1)
                await asyncio.sleep(0.8)
                sent = len(sim.messages)
                assert sent < N  # nothing more is sent while rows are held
                assert mta.spool.counts()["active"] >= 1  # its row is not written yet
                await asyncio.sleep(0.3)
                assert len(sim.messages) == sent
                with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                    await aiosmtplib.send(
                        b"Subject: hi\r\n\r\nhi\r\n",
                        sender="a@sender.test",
                        recipients=["late@example.com"],
                        hostname="127.0.0.1",
                        port=server.listeners[0].port,
                        start_tls=False,
                        timeout=5,
                    )
                assert refused.value.code == 452
                assert "4.3.1" in refused.value.message
                with pytest.raises(LocalError):
                    await send(mta, "late@example.com")
                disk.free()
                await until(lambda: mta.engine.totals["delivered"] == N, timeout=10)
                await until(lambda: mta.spool.counts()["active"] == 0, timeout=5)
                delivered = [r["rcpt"] for r in rows(mta, "d")]
                assert sorted(delivered) == sorted(f"u{i}@example.com" for i in range(N))
                assert mta.storage_refusal() is None
            finally:
                await server.stop(grace=2)


def test_rows_that_do_not_fit_are_held_whole_and_written_in_order_later(tmp_path: Path) -> None:
    """A flush on a full disk fails, leaves no half row in the file, keeps the whole rows
    that reached it and holds the others; once there is room they are all written, in
    order, once."""
    spec = parse_config_text("<acct-file acct.csv>\nrecords d\n</acct-file>\n").acct_files[0]
    with small_disk(tmp_path / "disk") as disk:
        acct = AccountingFile(spec, disk.path)
        record = {"type": "d", "timeLogged": datetime.now(UTC), "rcpt": "u0@example.com"}
        acct.write(record)
        acct.flush()
        disk.fill()
        for n in range(1, 200):  # far more than the file's last page can take
            acct.write({**record, "rcpt": f"u{n}@example.com"})
        with pytest.raises(OSError, match="No space"):
            acct.flush()
        assert acct.error is not None
        assert acct.held > 0
        lines = (disk.path / "acct.csv").read_bytes().splitlines(keepends=True)
        assert all(line.endswith(b"\n") for line in lines)
        # The rows that fitted whole stay (a tailer may have read them: cutting them off
        # would shrink the file under it), the rest are held: each row in one place.
        assert len(lines) > 2
        assert len(lines) - 1 + acct.held == 200
        disk.free()
        acct.flush()
        assert acct.held == 0  # written: the error is cleared too
        acct.close()
        got = [r.fields["rcpt"] for r in read_accounting(disk.path / "acct.csv")
               if isinstance(r, Row)]  # fmt: skip
        assert got == [f"u{n}@example.com" for n in range(200)]


_CHILD = """
import asyncio, sys
from pathlib import Path
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.node.runtime import Mta, MtaOptions
from mta.submit import Submission

async def main() -> None:
    options = MtaOptions(Path(sys.argv[1]), resolver=StaticResolver())
    mta = Mta(parse_config_text(sys.argv[2]), options)
    await mta.start()
    mta.engine.held = True
    for n in range(int(sys.argv[3])):
        raw = b"From: a@sender.test\\r\\nSubject: n%d\\r\\n\\r\\nbody\\r\\n" % n
        await mta.submit(Submission(raw, "a@sender.test", (f"r{n}@example.com",)))
    for acct in mta.acct_files:
        acct.flush()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the parent fills the disk meanwhile
    mta.engine.held = False
    mta.engine.wake()
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_kill_9_while_rows_are_held_loses_no_row(tmp_path: Path) -> None:
    """kill -9 while delivery rows wait for disk space: after a restart with space, every
    recipient has its d row (its message was kept in the spool and sent again)."""
    with small_disk(tmp_path / "disk") as disk:
        async with IspSimulator("default") as first, IspSimulator("default") as second:
            spool = f"spool {tmp_path / 'spool'}\n"
            config = ACCT + spool + f"<domain *>\n route 127.0.0.1:{first.port}\n</domain>\n"
            env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(disk.path), config, str(N)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            assert child.stdin is not None
            assert child.stdout is not None
            try:
                assert child.stdout.readline().strip() == b"ready"
                disk.fill()
                child.stdin.write(b"go\n")
                child.stdin.flush()
                await until(lambda: len(first.messages) >= 1)
                await asyncio.sleep(0.8)  # some delivered, their rows held in memory
            finally:
                child.kill()
                child.wait(timeout=10)
                child.stdin.close()
                child.stdout.close()
            disk.free()
            restart = spool + f"<domain *>\n route 127.0.0.1:{second.port}\n</domain>\n"
            async with running_mta(restart, disk.path) as mta:
                want = {f"r{n}@example.com" for n in range(N)}
                await until(lambda: {r["rcpt"] for r in rows(mta, "d")} >= want, timeout=20)

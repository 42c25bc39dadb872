"""kill -9 of a delivering MTA loses no acknowledged message: a restart delivers every one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acctpipe.sim.profile import IspProfile
from acctpipe.sim.server import IspSimulator
from tests.mta._mta import running_mta, until

_CHILD = """
import asyncio, sys
from pathlib import Path
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.node.runtime import Mta, MtaOptions
from mta.submit import Submission

async def main() -> None:
    config = parse_config_text(sys.argv[2])
    mta = Mta(config, MtaOptions(Path(sys.argv[1]), resolver=StaticResolver()))
    await mta.start()
    n = 0
    while True:
        raw = b"From: a@sender.test\\r\\nSubject: n%d\\r\\n\\r\\nbody\\r\\n" % n
        ids = await mta.submit(Submission(raw, "a@sender.test", (f"r{n}@example.com",)))
        print(ids[0], flush=True)  # acknowledged: the client would now have its 250
        n += 1

asyncio.run(main())
"""

_ID = re.compile(rb"^X-Acctpipe-Id: (\S+)", re.MULTILINE)


def _config(port: int) -> str:
    return f"<domain *>\n    route 127.0.0.1:{port}\n    max-smtp-out 4\n</domain>\n"


@pytest.mark.slow
async def test_kill_9_mid_delivery_then_restart_delivers_every_acknowledged_message(
    tmp_path: Path,
) -> None:
    """Messages acknowledged before kill -9 are all delivered after restart (duplicates allowed)."""
    slow = IspProfile("slow", data_delay=0.05)
    async with (
        IspSimulator(slow, keep=100_000) as first,
        IspSimulator("default", keep=100_000) as second,
    ):
        env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path), _config(first.port)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        acknowledged: list[str] = []
        deadline = time.monotonic() + 60
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(line.decode().strip())
        await until(lambda: len(first.messages) >= 5, timeout=30)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        # Lines printed after our last read were acknowledged too; read what is left.
        acknowledged += [x.decode().strip() for x in child.stdout.read().splitlines() if x.strip()]
        child.stdout.close()
        assert len(acknowledged) >= 20

        async with running_mta(_config(second.port), tmp_path) as mta:

            def delivered() -> set[str]:
                found = set()
                for sim in (first, second):
                    for message in sim.messages:
                        m = _ID.search(message.data)
                        if m:
                            found.add(m.group(1).decode())
                return found

            await until(lambda: set(acknowledged) <= delivered(), timeout=60)
            assert mta.spool.counts()["bad"] == 0

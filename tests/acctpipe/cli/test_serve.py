"""``acctpipe serve --workers N`` as a user runs it: worker processes sharing the port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from acctpipe.api import ApiKeyStore
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore
from tests.acctpipe._cli import run_cli, wait_until

_SERVING = re.compile(r"API worker (\d+) \(pid (\d+)\) is serving")


@dataclass
class Served:
    """A running ``acctpipe serve --workers 2``."""

    url: str
    key: str
    proc: subprocess.Popen[str]
    log: Path

    def workers(self) -> dict[int, int]:
        """Worker index -> pid, the latest start of each, from the log."""
        text = self.log.read_text(encoding="utf-8")
        return {int(i): int(pid) for i, pid in _SERVING.findall(text)}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``acctpipe serve --workers 2 --port 0`` over a SQLite store with one suppression."""
    url_db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = open_database(url_db)
    _, key = ApiKeyStore(engine).create("test", "read")
    SuppressionStore(engine).add("gone@isp.example", reason="hard-bounce")
    engine.dispose()
    args = [
        sys.executable, "-m", "acctpipe.cli", "serve",
        "--database-url", url_db, "--port", "0", "--workers", "2",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line + log.read_text(encoding="utf-8")
        assert "2 worker processes" in line
        yield Served(match.group(0), key, proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def _lookups(served: Served, count: int) -> None:
    """``count`` lookups, each on a new connection (so the kernel spreads them)."""
    for i in range(count):
        address = "gone@isp.example" if i % 2 == 0 else f"fine{i}@isp.example"
        with httpx.Client(base_url=served.url, timeout=10, trust_env=False) as http:
            answer = http.get(
                f"/v1/suppressions/{address}", headers={"Authorization": f"Bearer {served.key}"}
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["suppressed"] is (i % 2 == 0)


@pytest.mark.slow
def test_two_workers_answer_lookups_and_stop_cleanly(served: Served) -> None:
    """Both workers serve the one port; SIGTERM stops them all and the command exits 0."""
    workers = served.workers()
    assert sorted(workers) == [0, 1]
    assert all(_alive(pid) for pid in workers.values())
    _lookups(served, 40)
    log = served.log.read_text(encoding="utf-8")
    started = re.findall(r"Started server process \[(\d+)\]", log)
    assert sorted(int(p) for p in started) == sorted(workers.values())
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(60) == 0, served.log.read_text(encoding="utf-8")
    assert not any(_alive(pid) for pid in workers.values())


@pytest.mark.slow
def test_a_worker_that_dies_is_reported_and_replaced(served: Served) -> None:
    """kill -9 of a worker: the supervisor logs it and starts another in its place; the
    port keeps answering; SIGINT (Ctrl-C) then stops everything."""
    before = served.workers()
    os.kill(before[1], signal.SIGKILL)
    wait_until(lambda: served.workers().get(1) not in (None, before[1]), timeout=60.0)
    log = served.log.read_text(encoding="utf-8")
    assert f"API worker 1 (pid {before[1]}) exited with code -9; starting another" in log
    _lookups(served, 10)
    after = served.workers()
    served.proc.send_signal(signal.SIGINT)
    assert served.proc.wait(60) == 0, served.log.read_text(encoding="utf-8")
    assert not any(_alive(pid) for pid in after.values())


def test_more_than_one_worker_is_refused_with_the_tailer(tmp_path: Path) -> None:
    """The tailer writes the DuckDB file one process owns: --workers 2 --watch is refused."""
    proc = run_cli(
        "serve", "--db", str(tmp_path / "e.duckdb"), "--watch", str(tmp_path), "--workers", "2"
    )
    assert proc.returncode == 2
    assert "--workers 1" in proc.stderr

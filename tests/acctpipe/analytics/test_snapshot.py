"""SQL snapshot copies: a server that is killed leaves no copy of the store behind for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from acctpipe.analytics import ReadOnlyFile
from acctpipe.analytics.snapshot import Snapshots, remove_stale
from tests.acctpipe.analytics._data import build

# A server's part in this: it makes a copy, says where, then waits to be killed.
_SERVER = """
import sys
from acctpipe.analytics import ReadOnlyFile
from acctpipe.analytics.snapshot import Snapshots
snapshot = Snapshots(ReadOnlyFile(sys.argv[1]), max_age=0).current()
print(snapshot.path.parent, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def events_db(tmp_path: Path) -> Path:
    """A small events database of its own (copies go beside it)."""
    return build(tmp_path)


def _killed_server_copies(db: Path) -> Path:
    """The copy directory of a server that was killed with SIGKILL after its first copy."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    home = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert proc.stdin is not None
    proc.stdin.close()
    assert any(home.glob("events-*.duckdb")), "the killed server left its copy"
    return home


def test_copies_of_a_killed_server_go_even_when_its_pid_is_reused(events_db: Path) -> None:
    """A copy left by a killed server is removed by the next one, even if it got the same pid.

    In a container the server is PID 1 every time: a pid check alone kept every copy.
    """
    home = _killed_server_copies(events_db)
    prefix = home.name.split("-")[0] + "-"
    # The next server has the dead one's pid (here: this process's).
    reused = home.with_name(f"{prefix}{os.getpid()}-{home.name.split('-', 2)[2]}")
    home.rename(reused)
    snapshots = Snapshots(ReadOnlyFile(events_db), max_age=0)
    try:
        snapshots.current()
        assert not reused.exists()
    finally:
        snapshots.close()


def test_start_up_removes_dead_copies_and_keeps_live_ones(events_db: Path) -> None:
    """Removing stale copies at start leaves alone the copies of a server that still runs."""
    live = Snapshots(ReadOnlyFile(events_db), max_age=0)
    try:
        path = live.current().path
        dead = _killed_server_copies(events_db)
        assert remove_stale(events_db) == 1
        assert not dead.exists()
        assert path.exists()
        assert (path.parent.stat().st_mode & 0o777) == 0o700
    finally:
        live.close()
    assert not path.parent.exists()

"""SQL snapshot copies: a server that is killed leaves no copy of the store behind for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from acctpipe.analytics import ReadOnlyFile, SharedStore
from acctpipe.analytics import source as source_module
from acctpipe.analytics.snapshot import Snapshots, remove_stale
from acctpipe.eventstore import Store
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


@pytest.mark.slow
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


@pytest.mark.slow
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


class _SlowDisk(ReadOnlyFile):
    """The events file on a disk where a copy takes ``seconds`` (a big store)."""

    def __init__(self, path: Path, seconds: float) -> None:
        super().__init__(path)
        self.seconds = seconds
        self.copies = 0

    def snapshot(self, target: Path) -> tuple[int, ...]:
        time.sleep(self.seconds)
        self.copies += 1
        return super().snapshot(target)


def _add_row(db: Path) -> None:
    conn = duckdb.connect(str(db))
    conn.execute("INSERT INTO events SELECT * FROM events LIMIT 1")
    conn.close()


@pytest.mark.slow
def test_queries_cannot_keep_a_big_store_copying(events_db: Path) -> None:
    """Querying nonstop while data arrives copies the store at most once per ten copy times,
    so ingestion (which waits for each copy) is held a tenth of the time at most."""
    source = _SlowDisk(events_db, 0.05)
    snapshots = Snapshots(source, max_age=0)
    try:
        started = time.monotonic()
        first = snapshots.current()
        took = time.monotonic() - started  # at least what the copy took
        while time.monotonic() < started + 0.4:  # < 10 x 0.05 s
            _add_row(events_db)
            assert snapshots.current() == first  # older than max_age, and says so
        assert source.copies == 1
        # The copy ended by started + took; ten copy times after that, a new one is due.
        time.sleep(max(0.0, started + 11 * took - time.monotonic()) + 0.05)
        _add_row(events_db)
        assert snapshots.current().taken_at > first.taken_at
        assert source.copies == 2
    finally:
        snapshots.close()


def test_a_write_during_the_copy_is_picked_up_by_the_next_one(
    events_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row committed while a copy is made (without the batch lock, as the feedback loop's
    progress is) is in the next copy; it was missed until some other change came."""
    store = Store.open(events_db)
    copy = source_module._copy

    def copy_then_write(path: str, target: Path) -> None:
        copy(path, target)
        store.conn.execute("INSERT INTO feedback_progress VALUES ('late', 1, now())")

    snapshots = Snapshots(SharedStore(store), max_age=0, spacing=0)
    try:
        monkeypatch.setattr(source_module, "_copy", copy_then_write)
        snapshots.current()
        monkeypatch.undo()
        path = snapshots.current().path
        conn = duckdb.connect(str(path), read_only=True)
        try:
            found = conn.execute("SELECT count(*) FROM feedback_progress WHERE name = 'late'")
            assert found.fetchone() == (1,)
        finally:
            conn.close()
    finally:
        snapshots.close()
        store.close()

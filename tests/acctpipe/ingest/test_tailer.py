"""The tailer folds the WAL into the database file when idle, not inside a commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader, Tailer
from tests.acctpipe._acct import expected, header, rcpts, rows

pytestmark = pytest.mark.slow  # follows a directory for about a second


def _threshold(store: Store) -> str:
    row = store.conn.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    assert row is not None
    return str(row[0])


def test_an_idle_tailer_checkpoints_and_restores_the_threshold(tmp_path: Path) -> None:
    """Rows committed by a pass reach the database file once no event follows."""
    logs = tmp_path / "logs"
    logs.mkdir()
    store = Store.open(tmp_path / "db.duckdb")
    before = _threshold(store)
    tailer = Tailer(Loader(store), [logs], rescan=0.3, wal_cap=512 << 20)
    follower = threading.Thread(target=tailer.run)
    follower.start()
    try:
        (logs / "acct.csv").write_bytes(header() + rows(0, 40))
        deadline = time.monotonic() + 20
        while tailer.loader.stats.rows < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _threshold(store) != before  # deferred while following
        while store.wal_bytes() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.wal_bytes() == 0
    finally:
        tailer.stop()
        follower.join()
    assert _threshold(store) == before
    store.close()
    assert rcpts(tmp_path / "db.duckdb") == expected(range(40))

"""Recording a key's last use never makes a request wait for SQLite's write lock."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from acctpipe.api.keys import ApiKeyStore
from acctpipe.sqlstore import open_database


def test_authenticate_does_not_wait_while_an_import_holds_the_write_lock(tmp_path: Path) -> None:
    """With another connection holding the write lock (as an import's batch does), a key
    still authenticates at once; its last use is recorded by a later request."""
    path = tmp_path / "keys.sqlite"
    engine = open_database(f"sqlite:///{path}")
    clock = [datetime(2026, 12, 7, 6, 0, tzinfo=UTC)]
    keys = ApiKeyStore(engine, clock=lambda: clock[0])
    _, plaintext = keys.create("crm", "read")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        found = keys.authenticate(plaintext)
        waited = time.monotonic() - started
        assert found is not None
        assert waited < 2.0  # the busy timeout is 30 s: it did not wait for the lock
        assert keys.list()[0].last_used_at is None  # not recorded: the lock was taken
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    clock[0] += timedelta(seconds=5)
    assert keys.authenticate(plaintext) is not None
    assert keys.list()[0].last_used_at == clock[0]
    engine.dispose()

"""Event sources: the writer's own store from worker threads, or the file opened read-only."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from acctpipe.analytics import EventsUnavailableError, ReadOnlyFile, SharedStore, run_readonly
from acctpipe.eventstore import Store
from tests.acctpipe.analytics._data import SYNTHETIC, build

_HOLDER = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
open(sys.argv[2], "w").close()
sys.stdin.read()
conn.close()
"""


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture
def held_elsewhere(events_db: Path, tmp_path: Path) -> Iterator[Path]:
    """The database opened for writing by another process, until the test ends."""
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(events_db), str(ready)], stdin=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert holder.poll() is None, "the holder process died"
            assert time.monotonic() < deadline, "the holder never opened the database"
            time.sleep(0.02)
        yield events_db
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.slow
def test_shared_store_serves_worker_threads_concurrently(events_db: Path) -> None:
    """Several API threads query through the writer's store at once, each on its own cursor."""
    store = Store.open(events_db)
    try:
        source = SharedStore(store)
        with ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(
                    lambda _: run_readonly(source, "SELECT count(*) FROM events").rows,
                    range(16),
                )
            )
        assert results == [[(SYNTHETIC + 3,)]] * 16
    finally:
        store.close()


def test_shared_store_closes_its_cursor_and_keeps_the_writer(events_db: Path) -> None:
    """The cursor is closed after the block; the writer's connection goes on working."""
    store = Store.open(events_db)
    try:
        with SharedStore(store).connect() as conn:
            assert conn is not store.conn
            assert conn.execute("SELECT count(*) FROM files").fetchone() == (1,)
        with pytest.raises(duckdb.ConnectionException):
            conn.execute("SELECT 1")
        assert store.conn.execute("SELECT count(*) FROM files").fetchone() == (1,)
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["shared", "file"])
def test_connections_run_in_utc_without_python_replacement_scans(
    events_db: Path, kind: str
) -> None:
    """Every connection lent out uses UTC and never resolves a table to a Python variable."""
    store = Store.open(events_db) if kind == "shared" else None
    source = SharedStore(store) if store is not None else ReadOnlyFile(events_db)
    try:
        with source.connect() as conn:
            settings = conn.execute(
                "SELECT current_setting('TimeZone'), current_setting('python_enable_replacements')"
            ).fetchone()
        assert settings == ("UTC", False)
    finally:
        if store is not None:
            store.close()


def test_read_only_file_connections_cannot_reach_files(events_db: Path, tmp_path: Path) -> None:
    """A ReadOnlyFile connection has external access off: even unchecked SQL reads no file."""
    (tmp_path / "x.csv").write_text("a\n1\n")
    with ReadOnlyFile(events_db).connect() as conn:
        with pytest.raises(duckdb.PermissionException):
            conn.execute(f"SELECT * FROM read_csv('{tmp_path / 'x.csv'}')")
        with pytest.raises(duckdb.Error):
            conn.execute("CREATE TABLE t (a INTEGER)")


def test_a_missing_file_is_unavailable_with_a_hint(tmp_path: Path) -> None:
    """A database file that does not exist says so, and how to create it."""
    missing = tmp_path / "none.duckdb"
    with pytest.raises(EventsUnavailableError) as caught, ReadOnlyFile(missing).connect():
        pass
    assert str(missing) in str(caught.value)
    assert "acctpipe ingest" in str(caught.value)
    assert caught.value.path == str(missing)
    assert not missing.exists()


@pytest.mark.slow
def test_a_file_held_by_another_process_is_unavailable_with_the_fix(
    held_elsewhere: Path,
) -> None:
    """While another process writes the file, reading says to run the API beside the tailer."""
    with pytest.raises(EventsUnavailableError) as caught:
        run_readonly(ReadOnlyFile(held_elsewhere), "SELECT 1")
    message = str(caught.value)
    assert f"the DuckDB file {held_elsewhere} is held by another process" in message
    assert "acctpipe serve --watch" in message


def test_a_file_this_process_writes_points_to_shared_store(events_db: Path) -> None:
    """Opening read-only what this process already writes names SharedStore as the fix."""
    store = Store.open(events_db)
    try:
        with pytest.raises(EventsUnavailableError, match="SharedStore"):
            run_readonly(ReadOnlyFile(events_db), "SELECT 1")
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    """A file DuckDB cannot read is reported with DuckDB's reason."""
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_bytes(b"not a database at all" * 400)
    with pytest.raises(EventsUnavailableError, match="cannot be opened read-only"):
        run_readonly(ReadOnlyFile(bogus), "SELECT 1")

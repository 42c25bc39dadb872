"""One-shot ingest of real files into a real DuckDB file: exactly once, in every file event."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from acctpipe.eventstore import FileState, Store
from acctpipe.ingest import Loader, discover
from mta.acct import AccountingEncoder
from tests.acctpipe._acct import append, expected, header, rcpts, record, rows

pytestmark = pytest.mark.slow  # every test here takes over a second


def _ingest(db: Path, *paths: Path, batch_rows: int = 7) -> Loader:
    store = Store.open(db)
    try:
        loader = Loader(store, batch_rows=batch_rows, chunk_size=257)
        for path in discover(paths):
            loader.load(path)
        return loader
    finally:
        store.close()


def test_repeated_ingest_never_doubles(tmp_path: Path) -> None:
    """Ingesting the same file twice stores each record once."""
    (tmp_path / "acct.csv").write_bytes(header() + rows(0, 50))
    first = _ingest(tmp_path / "db.duckdb", tmp_path)
    second = _ingest(tmp_path / "db.duckdb", tmp_path)
    assert first.stats.rows == 50
    assert second.stats.rows == 0
    assert rcpts(tmp_path / "db.duckdb") == expected(range(50))


def test_appends_resume_from_the_committed_offset(tmp_path: Path) -> None:
    """Rows appended between runs are read once, from where the last run stopped."""
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 10))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    append(acct, rows(10, 25))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(25))


@pytest.mark.parametrize("cut", [1, 17, -3, -1])
def test_partial_last_line_waits_until_complete(tmp_path: Path, cut: int) -> None:
    """A half-written last record is not ingested until its line end arrives."""
    acct = tmp_path / "acct.csv"
    last = rows(10, 11)
    acct.write_bytes(header() + rows(0, 10) + last[:cut])
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(10))
    append(acct, last[cut:])
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(11))


def test_rows_written_one_byte_at_a_time_are_each_ingested_once(tmp_path: Path) -> None:
    """Ingesting after every single appended byte yields exactly the records (rule 10)."""
    acct = tmp_path / "acct.csv"
    data = header() + rows(0, 4)  # includes a quoted diagnostic spanning two lines
    db = tmp_path / "db.duckdb"
    store = Store.open(db)
    loader = Loader(store, batch_rows=2, chunk_size=3)
    for i in range(len(data)):
        append(acct, data[i : i + 1])
        loader.load(acct)
    assert rcpts(store) == expected(range(4))
    store.close()


def test_rotation_by_rename_keeps_reading_the_same_file(tmp_path: Path) -> None:
    """A renamed file is followed by identity: rows after the rename come once, none twice."""
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 10))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    append(acct, rows(10, 15))
    acct.rename(tmp_path / "acct-2026-11-25.csv")
    acct.write_bytes(header() + rows(15, 20))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(20))
    store = Store.open(tmp_path / "db.duckdb", read_only=True)
    _, paths = store.query("SELECT DISTINCT source_file FROM events ORDER BY 1")
    store.close()
    assert [Path(p).name for (p,) in paths] == ["acct-2026-11-25.csv", "acct.csv"]


def test_copy_truncate_reads_the_copy_tail_and_the_new_content_once(tmp_path: Path) -> None:
    """Copy-truncate: the copy is not re-read, the truncated original starts over at 0."""
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 10))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    append(acct, rows(10, 14))  # written after our read, before the copy
    (tmp_path / "acct.csv.1.csv").write_bytes(acct.read_bytes())
    with acct.open("r+b") as stream:
        stream.truncate(0)
    append(acct, header() + rows(14, 16))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(16))


def test_truncated_file_regrown_past_the_old_offset_is_a_new_file(tmp_path: Path) -> None:
    """Truncation is detected by the first bytes even when the file is longer than before."""
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 3))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    with acct.open("r+b") as stream:
        stream.truncate(0)
    append(acct, header() + rows(100, 130))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(3), range(100, 130))


def test_files_written_while_down_and_deleted_after_read(tmp_path: Path) -> None:
    """New files are read oldest first; deleting a file that was read loses nothing."""
    for i in range(3):
        path = tmp_path / f"acct-{i}.csv"
        path.write_bytes(header() + rows(i * 10, i * 10 + 10))
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    (tmp_path / "acct-0.csv").unlink()
    (tmp_path / "acct-3.csv").write_bytes(header() + rows(30, 35))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(35))


def test_inode_reuse_with_new_content_is_a_new_file(tmp_path: Path) -> None:
    """A deleted file's inode reused by another file is read from its start."""
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 5))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    acct.unlink()
    acct.write_bytes(header() + rows(50, 60))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(5), range(50, 60))


def test_copy_truncate_of_a_small_file_does_not_double(tmp_path: Path) -> None:
    """A copy of a file read while it was under 1 KiB is recognised as the same stream."""
    live = tmp_path / "acct.csv"
    live.write_bytes(header() + rows(0, 2))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    (tmp_path / "acct-old.csv").write_bytes(live.read_bytes())  # copy …
    live.write_bytes(header() + rows(2, 5))  # … then truncate and keep writing
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(5))


def test_a_header_longer_than_a_kibibyte_is_read(tmp_path: Path) -> None:
    """Files whose header (many header_* fields) runs past 1 KiB are ingested, not skipped."""
    extra = ",".join(f"header_X-Custom-Tracking-Field-{n:02}" for n in range(30))
    head = header().rstrip(b"\r\n") + b"," + extra.encode() + b"\r\n"
    padding = b"," * 30
    body = b"".join(line + padding + b"\r\n" for line in rows(0, 20).split(b"\r\n") if line)
    (tmp_path / "acct.csv").write_bytes(head + body)
    loader = _ingest(tmp_path / "db.duckdb", tmp_path)
    assert loader.stats.rows == 20


def test_new_files_with_the_same_long_header_are_not_taken_for_copies(tmp_path: Path) -> None:
    """Two rotated files sharing a header are different streams: both are read in full."""
    (tmp_path / "acct-1.csv").write_bytes(header() + rows(0, 30))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    (tmp_path / "acct-2.csv").write_bytes(header() + rows(30, 60))
    _ingest(tmp_path / "db.duckdb", tmp_path)
    assert rcpts(tmp_path / "db.duckdb") == expected(range(60))


def _mixed_file() -> bytes:
    """Rows, a malformed row, a header change and rows under the new header."""
    narrow = AccountingEncoder(("type", "rcpt", "timeLogged", "header_X-Campaign"))
    later = b"".join(
        narrow.encode({**record(n), "header_X-Campaign": "spring"}) for n in range(40, 60)
    )
    return header() + rows(0, 20) + b"d,only,three\r\n" + rows(20, 40) + narrow.header() + later


class _CrashAfter:
    """A store whose ``commit_batch`` fails (rolled back) after ``allowed`` commits."""

    def __init__(self, store: Store, allowed: int) -> None:
        self.store, self.allowed = store, allowed
        self.commits: list[tuple[int, pl.DataFrame, list[int]]] = []

    def __call__(self, state: FileState, **batch: Any) -> None:
        if len(self.commits) == self.allowed:
            raise _CrashError
        events, quarantine = batch["events"], batch["quarantine"]
        self.commits.append((state.offset, events, [m.offset for m in quarantine]))
        Store.commit_batch(self.store, state, **batch)


class _CrashError(Exception):
    pass


@pytest.mark.parametrize("chunk_size", [31, 257, 4096])
def test_batches_cut_at_row_groups_commit_each_row_once(tmp_path: Path, chunk_size: int) -> None:
    """A batch committed in whole row groups stores exactly the rows before its offset.

    The rows after the cut (and the quarantined records there) wait for the next batch,
    so a crash after any commit resumes with nothing lost or doubled.
    """
    acct = tmp_path / "acct.csv"
    acct.write_bytes(_mixed_file())
    store = Store.open(tmp_path / "db.duckdb")
    crash = _CrashAfter(store, allowed=2)
    store.commit_batch = crash  # type: ignore[method-assign]
    loader = Loader(store, batch_rows=7, chunk_size=chunk_size, row_group=3)
    with pytest.raises(_CrashError):
        loader.load(acct)
    start = 0
    for offset, events, quarantined in crash.commits:
        stored = events.get_column("source_offset").to_list() + quarantined
        assert all(start <= at < offset for at in stored)
        assert events.height % 3 == 0  # whole "row groups": the rest waited
        start = offset
    del store.commit_batch
    Loader(store, batch_rows=7, chunk_size=chunk_size, row_group=3).load(acct)
    _, found = store.query("SELECT rcpt, extra FROM events ORDER BY source_offset")
    _, bad = store.query("SELECT raw FROM quarantine")
    _, state = store.query('SELECT "offset", header[4] FROM files')
    store.close()
    assert sorted(r[0] for r in found) == expected(range(60))
    assert found[-1][1] == '{"header_X-Campaign":"spring"}'
    assert [bytes(r[0]) for r in bad] == [b"d,only,three\r\n"]
    assert state == [(len(_mixed_file()), "header_X-Campaign")]


def test_a_failed_commit_stops_the_load_before_any_later_batch(tmp_path: Path) -> None:
    """Batches commit in file order; after one fails, load raises and commits nothing more.

    The next batch is decoded while one commits, so this pins that the failure still
    ends the load and the stored offset is the last one committed.
    """
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 60))
    store = Store.open(tmp_path / "db.duckdb")
    crash = _CrashAfter(store, allowed=1)
    calls: list[int] = []

    def commit(state: FileState, **batch: Any) -> None:
        calls.append(state.offset)
        crash(state, **batch)

    store.commit_batch = commit  # type: ignore[method-assign]
    with pytest.raises(_CrashError):
        Loader(store, batch_rows=7, chunk_size=257).load(acct)
    assert len(calls) == 2
    assert calls == sorted(calls)
    _, state = store.query('SELECT "offset" FROM files')
    assert state == [(crash.commits[0][0],)]
    store.close()

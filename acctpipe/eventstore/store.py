"""The event store: one DuckDB file, its file offsets, and the one-transaction commit.

:meth:`Store.commit_batch` writes a batch's events (or reject-log rows), its
quarantined records and the file's new offset and header in ONE transaction:
after a crash at any instant the database holds either all of a batch and
its offset, or none of them, so a restart resumes with no row lost or doubled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from acctpipe.eventstore.schema import EVENT_COLUMNS, migrate
from mta.acct import MalformedRow
from mta.errors import StoreError

__all__ = ["FileKind", "FileState", "Store"]

FileKind = Literal["accounting", "reject"]
_CHECKPOINT_THRESHOLD = "64MB"
# A constant column list: the only text ever spliced into this module's SQL.
_STATE_COLUMNS = (
    'file_id, path, kind, device, inode, fingerprint, fingerprint_len, "offset", header, status'
)


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store knows about one followed file (a row of ``files``)."""

    file_id: int
    path: str
    kind: FileKind
    device: int
    inode: int
    fingerprint: str
    fingerprint_len: int
    offset: int
    header: tuple[str, ...] | None
    status: str = "active"

    def advanced(self, **changes: Any) -> FileState:
        """A copy with ``changes`` applied (offset, header, path, identity)."""
        return replace(self, **changes)


class _ArrowStream:
    """Hand a polars frame to DuckDB through the Arrow C stream (no pyarrow needed)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._frame.__arrow_c_stream__(requested_schema)


def _state(row: tuple[Any, ...]) -> FileState:
    header = tuple(row[8]) if row[8] is not None else None
    return FileState(
        file_id=row[0],
        path=row[1],
        kind=row[2],
        device=row[3],
        inode=row[4],
        fingerprint=row[5],
        fingerprint_len=row[6],
        offset=row[7],
        header=header,
        status=row[9],
    )


class Store:
    """A DuckDB event store. Open with :meth:`open`; one writer process at a time."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: str) -> None:
        self.conn = conn
        self.path = path
        # Held while a batch commits: DuckDB writes a large batch's row groups straight
        # into the database file, so a byte copy of the file (the SQL sandbox's snapshot)
        # is consistent only while no batch is in flight.
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Store:
        """Open (and create or migrate, unless ``read_only``) the store at ``path``."""
        where = str(path)
        if read_only and not Path(where).exists():
            raise StoreError("no such database", path=where)
        try:
            conn = duckdb.connect(where, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(_first_line(exc), path=where) from exc
        # Never fetch or load an extension behind a query's back: the API's read-only
        # SQL shares this instance, and acctpipe needs none beyond the built-in ones.
        conn.execute("SET autoinstall_known_extensions = false")
        conn.execute("SET autoload_known_extensions = false")
        if not read_only:
            # Fold the WAL into the file every 64 MB instead of 16 MB: each checkpoint
            # rewrites the last row group, so small batches paid for it over and over.
            # Commits stay durable (the WAL is synced); a restart replays at most this.
            conn.execute(f"SET checkpoint_threshold = '{_CHECKPOINT_THRESHOLD}'")
            migrate(conn)
        return cls(conn, where)

    def close(self) -> None:
        """Close the connection (uncommitted work is rolled back)."""
        self.conn.close()

    def defer_checkpoints(self, cap: int | None) -> None:
        """Let the WAL grow to ``cap`` bytes before a commit folds it in (``None``: 64 MB).

        DuckDB checkpoints inside the commit that crosses the threshold, and every
        later commit waits for it. A follower that calls :meth:`checkpoint` when it
        is idle raises the threshold, so the commit path pays for one only at the cap.
        The setting is the database's: it holds for every connection to it.
        """
        threshold = _CHECKPOINT_THRESHOLD if cap is None else f"{max(cap >> 20, 1)}MB"
        self.conn.execute(f"SET checkpoint_threshold = '{threshold}'")

    def wal_bytes(self) -> int:
        """Bytes in the write-ahead log (committed, not yet folded into the file)."""
        try:
            return Path(self.path + ".wal").stat().st_size
        except FileNotFoundError:
            return 0

    def checkpoint(self) -> bool:
        """Fold the WAL into the database file; False if a transaction is busy (try later)."""
        with self.lock:
            try:
                self.conn.execute("CHECKPOINT")
            except duckdb.TransactionException:
                return False
            return True

    def states_for_inode(self, device: int, inode: int) -> list[FileState]:
        """Active file states with this device and inode, newest first."""
        rows = self.conn.execute(
            f"SELECT {_STATE_COLUMNS} FROM files WHERE device = ? AND inode = ?"  # noqa: S608
            " AND status = 'active' ORDER BY file_id DESC",
            [device, inode],
        ).fetchall()
        return [_state(r) for r in rows]

    def fingerprint_lengths(self) -> list[int]:
        """The distinct fingerprint lengths of known files, longest first."""
        rows = self.conn.execute(
            "SELECT DISTINCT fingerprint_len FROM files ORDER BY fingerprint_len DESC"
        ).fetchall()
        return [int(r[0]) for r in rows]

    def state_for_fingerprint(self, fingerprint: str, length: int) -> FileState | None:
        """The newest state whose full-length fingerprint is ``fingerprint`` (a copy's origin)."""
        row = self.conn.execute(
            f"SELECT {_STATE_COLUMNS} FROM files"  # noqa: S608 - constant column list
            " WHERE fingerprint = ? AND fingerprint_len = ?"
            " ORDER BY file_id DESC LIMIT 1",
            [fingerprint, length],
        ).fetchone()
        return None if row is None else _state(row)

    def new_file(
        self, path: str, kind: FileKind, device: int, inode: int, fingerprint: tuple[str, int]
    ) -> FileState:
        """Record a file seen for the first time (offset 0) and return its state."""
        row = self.conn.execute(
            "INSERT INTO files VALUES (nextval('file_ids'), ?, ?, ?, ?, ?, ?, 0, NULL,"  # noqa: S608
            " 'active', 0, 0, 0, NULL, now(), now()) RETURNING " + _STATE_COLUMNS,
            [path, kind, device, inode, fingerprint[0], fingerprint[1]],
        ).fetchone()
        if row is None:  # pragma: no cover - INSERT … RETURNING always returns the row
            raise StoreError("file row was not created", path=self.path)
        return _state(row)

    def set_status(self, file_id: int, status: str) -> None:
        """Mark a file state ``truncated``, ``replaced`` or ``gone``; it is no longer followed."""
        self.conn.execute(
            "UPDATE files SET status = ?, updated_at = now() WHERE file_id = ?", [status, file_id]
        )

    def commit_batch(
        self,
        state: FileState,
        *,
        events: pl.DataFrame | None = None,
        rejects: pl.DataFrame | None = None,
        quarantine: Sequence[MalformedRow] = (),
        size_seen: int = 0,
        newest: datetime | None = None,
    ) -> None:
        """Insert the batch and move the file to ``state`` in one transaction."""
        with self.lock:
            self._commit_batch(state, events, rejects, quarantine, size_seen, newest)

    def _commit_batch(
        self,
        state: FileState,
        events: pl.DataFrame | None,
        rejects: pl.DataFrame | None,
        quarantine: Sequence[MalformedRow],
        size_seen: int,
        newest: datetime | None,
    ) -> None:
        conn = self.conn
        conn.begin()
        try:
            if events is not None and events.height:
                frame = events.select([name for name, _, _ in EVENT_COLUMNS])
                conn.from_arrow(_ArrowStream(frame)).insert_into("events")
            if rejects is not None and rejects.height:
                conn.from_arrow(_ArrowStream(rejects)).insert_into("rejects")
            if quarantine:
                conn.executemany(
                    "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, now())",
                    [
                        [state.file_id, state.path, m.offset, m.length, m.raw, m.reason]
                        for m in quarantine
                    ],
                )
            rows = (events.height if events is not None else 0) + (
                rejects.height if rejects is not None else 0
            )
            conn.execute(
                'UPDATE files SET path = ?, device = ?, inode = ?, "offset" = ?, header = ?,'
                " fingerprint = ?, fingerprint_len = ?, size_seen = ?, rows = rows + ?,"
                " quarantined = quarantined + ?,"
                " newest_time_logged = greatest(newest_time_logged, ?::TIMESTAMPTZ),"
                " updated_at = now() WHERE file_id = ?",
                [
                    state.path,
                    state.device,
                    state.inode,
                    state.offset,
                    list(state.header) if state.header is not None else None,
                    state.fingerprint,
                    state.fingerprint_len,
                    max(size_seen, state.offset),
                    rows,
                    len(quarantine),
                    newest,
                    state.file_id,
                ],
            )
            conn.commit()
        except BaseException:
            # A commit that failed (a full disk) has already ended the transaction, and
            # rollback's own "no transaction is active" would hide the write error.
            with contextlib.suppress(duckdb.Error):
                conn.rollback()
            raise

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run ``sql``; return the column names and every row."""
        try:
            result = self.conn.execute(sql)
        except duckdb.Error as exc:
            raise StoreError(_first_line(exc), path=self.path) from exc
        columns = [d[0] for d in result.description or ()]
        return columns, result.fetchall()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

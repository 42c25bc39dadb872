"""Where the analytics read events from: the writer's own DuckDB, or the file read-only.

DuckDB lets one process write a database file, and while it does no other
process can open the file, not even read-only. So the API reads events either
through the writer it shares a process with (:class:`SharedStore`: a cursor is
a separate connection to the same database, safe to use from another thread)
or, when no tailer runs, by opening the file read-only per request
(:class:`ReadOnlyFile`).

Every connection handed out is set up the same way: the session time zone is
UTC (so ``CAST(time_logged AS DATE)`` is a UTC day), no progress bar, and no
Python replacement scans (a table name never resolves to a Python variable).
These connections are for our own SQL (reports, the dashboard, summaries).

User SQL never runs on them: :meth:`SnapshotSource.snapshot` copies the
database file (and its WAL) to a path the SQL sandbox
(:mod:`acctpipe.analytics.sandbox`) opens in a worker process of its own, and
:meth:`SnapshotSource.version` tells whether a new copy would differ from the
last one.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import duckdb

from acctpipe.analytics.errors import EventsUnavailableError
from acctpipe.eventstore.store import Store

__all__ = ["EventSource", "EventsUnavailableError", "ReadOnlyFile", "SharedStore", "SnapshotSource"]

_SESSION = (
    "SET TimeZone = 'UTC'",
    "SET enable_progress_bar = false",
    "SET python_enable_replacements = false",
)


def _prepare(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _SESSION:
        conn.execute(statement)


@runtime_checkable
class EventSource(Protocol):
    """Something that lends a DuckDB connection to the events database."""

    def connect(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection for this thread, closed when the ``with`` block ends."""
        ...


@runtime_checkable
class SnapshotSource(EventSource, Protocol):
    """An event source the SQL sandbox can copy (both sources here are)."""

    @property
    def path(self) -> str:
        """The database file."""
        ...

    def snapshot(self, target: Path) -> tuple[int, ...]:
        """Copy the database, consistent, to ``target`` (and ``target``.wal); its version."""
        ...

    def version(self) -> tuple[int, ...]:
        """Sizes and modification times of the database file and its WAL (a change detector)."""
        ...


def _version(path: str) -> tuple[int, ...]:
    found: list[int] = []
    for name in (path, path + ".wal"):
        try:
            st = Path(name).stat()
        except FileNotFoundError:
            found += [-1, -1]
        else:
            found += [st.st_size, st.st_mtime_ns]
    return tuple(found)


def _copy(path: str, target: Path) -> None:
    """Copy the file at ``path`` and its WAL, if any, to ``target`` and ``target``.wal."""
    wal = Path(str(target) + ".wal")
    wal.unlink(missing_ok=True)
    shutil.copyfile(path, target)
    with contextlib.suppress(FileNotFoundError):
        # The WAL holds the commits since the last checkpoint; a read-only open of the
        # copy replays it (a torn last record, if any, is dropped like after a crash).
        shutil.copyfile(path + ".wal", wal)


class SharedStore:
    """Read through the writer's own :class:`~acctpipe.eventstore.store.Store` (same process).

    Each :meth:`connect` yields a new cursor of ``store.conn`` (its own DuckDB
    connection to the same database, so worker threads never share one) and
    closes it afterwards.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the store's connection, with the analytics session settings."""
        cursor = self.store.conn.cursor()
        try:
            _prepare(cursor)
            yield cursor
        finally:
            cursor.close()

    @property
    def path(self) -> str:
        """The store's database file."""
        return self.store.path

    def snapshot(self, target: Path) -> tuple[int, ...]:
        """Checkpoint, then copy the file and WAL while no batch commits (``store.lock``).

        A large batch writes its row groups straight into the database file before it
        commits, so the copy is taken under the lock the store's batches hold.
        """
        store = self.store
        with store.lock:
            cursor = store.conn.cursor()
            try:
                # Best effort: it folds the WAL into the file, so the copy opens fast; a
                # failed one (another transaction busy) still leaves file + WAL consistent.
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("CHECKPOINT")
            finally:
                cursor.close()
            # The version first: a write that slips in during the copy (the feedback loop's
            # progress row commits without the lock) then shows as a change next time.
            version = _version(store.path)
            _copy(store.path, target)
            return version

    def version(self) -> tuple[int, ...]:
        """Sizes and modification times of the store's file and WAL."""
        return _version(self.store.path)

    def __repr__(self) -> str:
        return f"SharedStore({self.store.path!r})"


class ReadOnlyFile:
    """Open the DuckDB file read-only for each :meth:`connect` (no writer in this process).

    Raises :class:`EventsUnavailableError` when the file is missing or another
    process holds it. These connections are their own DuckDB instance, so they
    also run with external access (files, network) and extension autoloading off.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the file, closed afterwards."""
        conn = self._open()
        try:
            _prepare(conn)
            yield conn
        finally:
            conn.close()

    def snapshot(self, target: Path) -> tuple[int, ...]:
        """Copy the file and its WAL while a read-only connection holds it (no writer can)."""
        conn = self._open()
        try:
            version = _version(self.path)
            _copy(self.path, target)
            return version
        finally:
            conn.close()

    def version(self) -> tuple[int, ...]:
        """Sizes and modification times of the file and its WAL."""
        return _version(self.path)

    def _open(self) -> duckdb.DuckDBPyConnection:
        if not Path(self.path).is_file():
            raise EventsUnavailableError(
                f"the DuckDB file {self.path} does not exist: run `acctpipe ingest` or"
                " `acctpipe tail` to create it, or point the API at the right file",
                path=self.path,
            )
        config: dict[str, str | bool | int | float | list[str]] = {
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
        }
        try:
            return duckdb.connect(self.path, read_only=True, config=config)
        except duckdb.Error as exc:
            raise EventsUnavailableError(_why(self.path, exc), path=self.path) from exc

    def __repr__(self) -> str:
        return f"ReadOnlyFile({self.path!r})"


def _why(path: str, exc: duckdb.Error) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "lock" in detail.lower():
        return (
            f"the DuckDB file {path} is held by another process: run the API in the same"
            " process as the tailer (acctpipe serve --watch ...), or query the Parquet"
            f" export ({detail})"
        )
    if isinstance(exc, duckdb.ConnectionException):
        return (
            f"the DuckDB file {path} is open for writing in this process: read it through"
            f" SharedStore(store), not ReadOnlyFile ({detail})"
        )
    return f"the DuckDB file {path} cannot be opened read-only: {detail}"

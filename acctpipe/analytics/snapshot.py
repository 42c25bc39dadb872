"""Read-only copies of the events database for the SQL sandbox, a few seconds old at most.

The tailer's process holds the only writer of the DuckDB file, and DuckDB lets no
other process open it meanwhile. The SQL sandbox's workers therefore read a copy:
:meth:`Snapshots.current` hands out the newest one, and makes a new one (through
:meth:`EventSource.snapshot <acctpipe.analytics.source.EventSource.snapshot>`)
when the last is older than ``max_age`` seconds AND the database changed since
— and at least ten times as long as the last copy took has passed: ingestion
waits while a copy is made, so a store that takes 3 s to copy is copied at
most every 30 s, however often a read key queries.
A snapshot says when it was taken (``taken_at``): its data is the database's as
of then — or as of the last check that found nothing new.

Copies live in a directory of their own (beside the database file when that
directory is writable, else the system's temporary directory), named with the
process id; the superseded copy is deleted at once (a worker that still has it
open keeps reading it), and the directory when the process ends. The process
holds a lock (``flock``) on a file in its directory for as long as it lives, so
the directories of a process that was killed are recognised by their free lock,
even when a new process got the same id (PID 1 in a container), and removed
when the next server starts (:func:`remove_stale`) or makes its first copy.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from acctpipe._proc import pid_alive
from acctpipe.analytics.source import SnapshotSource

__all__ = ["DEFAULT_SPACING", "Snapshot", "Snapshots", "remove_stale"]

_LOCK = "owner.lock"
DEFAULT_SPACING: Final = 10.0
"""A new copy waits at least this many times as long as the last copy took."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One copy of the database: its path and the moment its data is current as of."""

    path: Path
    taken_at: datetime

    def age(self, now: datetime | None = None) -> float:
        """Seconds since :attr:`taken_at`."""
        return max(0.0, ((now or datetime.now(UTC)) - self.taken_at).total_seconds())


def _where(database: str | Path) -> tuple[Path, str]:
    db = Path(database).resolve()
    parent = db.parent
    if not os.access(parent, os.W_OK):
        parent = Path(tempfile.gettempdir())
    return parent, f".{db.name}.sql-"


def _owned(directory: Path, prefix: str) -> bool:
    """Whether a live process still owns ``directory`` (holds its lock)."""
    try:
        fd = os.open(directory / _LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        # No lock file: being made right now (for microseconds), or by an older version
        # (whose pid may be reused: PID 1 in a container) — stale after a minute.
        pid = directory.name.removeprefix(prefix).split("-")[0]
        try:
            young = time.time() - directory.stat().st_mtime < 60
        except OSError:
            return True
        return young and (not pid.isdigit() or pid_alive(int(pid)))
    except OSError:
        return True  # not ours to judge (a symlink, no permission): leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the lock we may have taken
    return False


def remove_stale(database: str | Path) -> int:
    """Remove the copy directories of ``database`` left by servers that were killed.

    A directory is stale when no process holds its lock. Returns how many went.
    """
    parent, prefix = _where(database)
    removed = 0
    for old in parent.glob(prefix + "*"):
        if old.is_dir() and not old.is_symlink() and not _owned(old, prefix):
            shutil.rmtree(old, ignore_errors=True)
            removed += 1
    return removed


def _home(database: str) -> tuple[Path, int]:
    """A fresh directory for the copies and the descriptor holding its lock."""
    remove_stale(database)
    parent, prefix = _where(database)
    home = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    fd = os.open(home / _LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file: nobody else holds it
    return home, fd


class Snapshots:
    """The copies of one event source: refreshed on demand, at most ``max_age`` s old."""

    def __init__(
        self, source: SnapshotSource, *, max_age: float, spacing: float = DEFAULT_SPACING
    ) -> None:
        self.source = source
        self.max_age = max_age
        self.spacing = spacing  # a new copy waits this many times as long as the last took
        self._lock = threading.Lock()
        self._home: Path | None = None
        self._lock_fd = -1  # held open while the directory is ours (see remove_stale)
        self._current: Snapshot | None = None
        self._version: tuple[int, ...] = ()
        self._checked = 0.0
        self._copied = 0.0  # when the last copy was made (monotonic) ...
        self._cost = 0.0  # ... and how long it took
        self._names = itertools.count(1)
        # Queries between choosing a copy and opening it, per copy: a superseded copy is
        # deleted only when none is left (once opened, deleting it is harmless).
        self._leases: Counter[Path] = Counter()
        self._superseded: set[Path] = set()

    @contextlib.contextmanager
    def lease(self) -> Iterator[Snapshot]:
        """:meth:`current`, kept on disk until the ``with`` block ends."""
        with self._lock:
            snapshot = self._current_locked()
            self._leases[snapshot.path] += 1
        try:
            yield snapshot
        finally:
            with self._lock:
                self._leases[snapshot.path] -= 1
                if self._leases[snapshot.path] <= 0:
                    del self._leases[snapshot.path]
                    if snapshot.path in self._superseded:
                        self._superseded.discard(snapshot.path)
                        _remove(snapshot.path)

    def current(self) -> Snapshot:
        """The newest copy; a new one first if the last is too old and the data changed.

        Raises :class:`~acctpipe.analytics.errors.EventsUnavailableError` when the
        source cannot be read (the copy is only made from a readable database).
        """
        with self._lock:
            return self._current_locked()

    def _current_locked(self) -> Snapshot:
        now = time.monotonic()
        current = self._current
        if current is not None and now - self._checked < self.max_age:
            return current
        checked_at = datetime.now(UTC)
        if current is not None and self.source.version() == self._version:
            # Nothing committed since the copy: it is as current as this check.
            self._current = Snapshot(current.path, checked_at)
        elif current is not None and now - self._copied < self.spacing * self._cost:
            # Ingestion waits while a copy is made (a big store: seconds). However often
            # anyone queries, copies are spaced so that it waits a tenth of the time at most;
            # the copy in hand is older than max_age, and its taken_at says so.
            return current
        else:
            self._current = self._copy(checked_at)
            self._copied = time.monotonic()
            self._cost = self._copied - now
        self._checked = now
        return self._current

    def home(self) -> Path:
        """The directory of the copies (made on first use)."""
        if self._home is None:
            self._home, self._lock_fd = _home(self.source.path)
            atexit.register(shutil.rmtree, self._home, True)
        return self._home

    def _copy(self, taken_at: datetime) -> Snapshot:
        target = self.home() / f"events-{next(self._names)}.duckdb"
        try:
            self._version = self.source.snapshot(target)
        except BaseException:
            _remove(target)
            raise
        old = self._current
        if old is not None:
            if self._leases[old.path]:
                self._superseded.add(old.path)
            else:
                _remove(old.path)
        return Snapshot(target, taken_at)

    def close(self) -> None:
        """Delete every copy (workers that still have one open keep reading it)."""
        with self._lock:
            if self._home is not None:
                shutil.rmtree(self._home, ignore_errors=True)
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
            self._home, self._current, self._version = None, None, ()
            self._lock_fd = -1
            self._superseded.clear()


def _remove(path: Path) -> None:
    for name in (path, Path(str(path) + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()

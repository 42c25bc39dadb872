"""Follow directories: watchdog events wake the loop, a periodic rescan backs them up.

Every pass lists the directories (oldest file first) and lets the
:class:`~acctpipe.ingest.loader.Loader` read each file from its committed
offset, so a missed or coalesced filesystem event only delays a row until the
next rescan. Rotation, truncation and deletion need no special event handling:
file identity (device + inode + first bytes) decides what each file is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from acctpipe.ingest.files import DEFAULT_GLOBS, discover, matches
from acctpipe.ingest.loader import Loader

__all__ = ["DEFAULT_RESCAN", "DEFAULT_WAL_CAP", "Tailer"]

DEFAULT_RESCAN: Final = 2.0
"""Seconds between rescans when no filesystem event arrives."""

DEFAULT_WAL_CAP: Final = 64 << 20
"""Bytes of WAL past which a commit checkpoints anyway (the tailer's idle ones come first)."""

_IDLE: Final = 0.1
"""Seconds without a filesystem event after which the tailer counts as idle."""

_IDLE_WAL: Final = 1 << 20
"""WAL bytes worth a checkpoint after a short idle spell (any amount after a rescan's)."""


_QUIET: Final = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})
"""Events that change nothing: the tailer's own reads raise them, and must not wake it."""


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event, globs: Sequence[str]) -> None:
        self._wake = wake
        self._globs = globs

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _QUIET:
            return
        for where in (event.src_path, getattr(event, "dest_path", "")):
            name = Path(str(where)).name
            if name and matches(name, self._globs):
                self._wake.set()
                return


class Tailer:
    """Follow ``dirs`` until :meth:`stop`; each pass ingests everything complete."""

    def __init__(
        self,
        loader: Loader,
        dirs: Sequence[Path],
        *,
        globs: Sequence[str] = DEFAULT_GLOBS,
        rescan: float = DEFAULT_RESCAN,
        settle: float = 0.0,
        wal_cap: int | None = DEFAULT_WAL_CAP,
        on_pass: Callable[[], None] | None = None,
        before_pass: Callable[[], None] | None = None,
    ) -> None:
        self.loader = loader
        self._before_pass = before_pass
        self._dirs = list(dirs)
        self._globs = tuple(globs)
        self._rescan = rescan
        self._settle = settle
        self._wal_cap = wal_cap
        self._on_pass = on_pass
        self.stopping = threading.Event()
        self._wake = threading.Event()

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return (safe from a signal handler)."""
        self.stopping.set()
        self._wake.set()

    def run_pass(self) -> None:
        """Ingest every complete record of every matching file, oldest file first."""
        if self._before_pass is not None:
            self._before_pass()
        for path in discover(self._dirs, self._globs):
            if self.stopping.is_set():
                return
            self.loader.load(path)
        if self._on_pass is not None:
            self._on_pass()

    def run(self) -> None:
        """Follow until :meth:`stop` is called.

        The WAL is folded into the database file while the tailer is idle (no event
        for a tenth of a second, with a megabyte of WAL; or a whole rescan period),
        not inside the commit that crosses DuckDB's threshold: that commit, and the
        pass after it, would wait for the checkpoint while new rows queue. Only a WAL
        grown to ``wal_cap`` under sustained load is checkpointed on the commit path.
        """
        store = self.loader.store
        observer = Observer()
        handler = _Wake(self._wake, self._globs)
        for directory in self._dirs:
            if directory.is_dir():
                observer.schedule(handler, str(directory), recursive=False)
        observer.start()
        try:
            if self._wal_cap is not None:
                store.defer_checkpoints(self._wal_cap)
            while not self.stopping.is_set():
                self._wake.clear()
                self.run_pass()
                if self._wal_cap is None:
                    woken = self._wake.wait(self._rescan)
                elif not (woken := self._wake.wait(min(_IDLE, self._rescan))):
                    if store.wal_bytes() >= _IDLE_WAL:
                        store.checkpoint()
                    woken = self._wake.wait(max(self._rescan - _IDLE, 0.0))
                    if not woken and store.wal_bytes():
                        store.checkpoint()
                if woken and self._settle and not self.stopping.is_set():
                    # Let a burst of appends land so one pass takes them together.
                    self.stopping.wait(self._settle)
        finally:
            observer.stop()
            observer.join()
            if self._wal_cap is not None:
                store.defer_checkpoints(None)

    def final_pass(self) -> None:
        """After :meth:`run` returned: ingest what was appended meanwhile, one last time.

        A stop ends the loop between passes; the rows an MTA wrote while shutting
        down would otherwise wait for the next start.
        """
        self.stopping.clear()
        try:
            self.run_pass()
        finally:
            self.stopping.set()

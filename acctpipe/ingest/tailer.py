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

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from acctpipe.ingest.files import DEFAULT_GLOBS, discover, matches
from acctpipe.ingest.loader import Loader

__all__ = ["DEFAULT_RESCAN", "Tailer"]

DEFAULT_RESCAN: Final = 2.0
"""Seconds between rescans when no filesystem event arrives."""


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event, globs: Sequence[str]) -> None:
        self._wake = wake
        self._globs = globs

    def on_any_event(self, event: FileSystemEvent) -> None:
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
        settle: float = 0.02,
        on_pass: Callable[[], None] | None = None,
        before_pass: Callable[[], None] | None = None,
    ) -> None:
        self.loader = loader
        self._before_pass = before_pass
        self._dirs = list(dirs)
        self._globs = tuple(globs)
        self._rescan = rescan
        self._settle = settle
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
        """Follow until :meth:`stop` is called."""
        observer = Observer()
        handler = _Wake(self._wake, self._globs)
        for directory in self._dirs:
            if directory.is_dir():
                observer.schedule(handler, str(directory), recursive=False)
        observer.start()
        try:
            while not self.stopping.is_set():
                self._wake.clear()
                self.run_pass()
                if self._wake.wait(self._rescan) and not self.stopping.is_set():
                    # Let a burst of appends land so one pass takes them together.
                    self.stopping.wait(self._settle)
        finally:
            observer.stop()
            observer.join()

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

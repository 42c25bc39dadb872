"""The pickup hot folder: complete files renamed into a directory are spooled and removed.

Each ``<pickup PATH>`` (or PowerMTA's ``pickup DIR BADDIR``) runs one
:class:`PickupFolder`. A watchdog observer wakes it as soon as a file lands; a
scan every ``scan-interval`` catches what the observer missed (and what was
there at start). A scan takes files oldest first, in bounded batches, one file
in memory at a time, and for each::

    claim (rename to .NAME.processing) → parse → submit → delete | done/NAME
                                           │         └─ LocalError: rename back, retry next scan
                                           └─ refused: bad/NAME + bad/NAME.reason

Delivery is *at least once*: a file is removed only after the spool has
acknowledged it, so a crash between the two spools it again on restart (a
duplicate), never loses it. The file format is in :mod:`mta.pickup.format`,
the file moves in :mod:`mta.pickup.fs`, the operator's view in docs/pickup.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from mta.config.model import Config, Pickup
from mta.errors import ConfigError, LocalError
from mta.pickup import fs
from mta.pickup.format import Refused, parse_pickup_file
from mta.submit import Submission, Submitter

__all__ = ["BATCH_SIZE", "MAX_FILE_SIZE", "PickupFolder"]

log = logging.getLogger("mta.pickup.watcher")

BATCH_SIZE: Final = 500
MAX_FILE_SIZE: Final = 50 * 1024 * 1024
_STOP_GRACE: Final = 30.0  # seconds stop() lets the file in hand finish
_WAKE_EVENTS: Final = frozenset({"created", "moved", "closed"})

Outcome = Literal["picked", "bad", "held", "skipped"]


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base is None else base / p


class _Wake(FileSystemEventHandler):
    """Watchdog's thread → the asyncio loop: a complete name appeared, scan now."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wake: Callable[[], None]) -> None:
        self._loop = loop
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Wake the folder for a new complete file (ignore our own claims and moves)."""
        if event.is_directory or event.event_type not in _WAKE_EVENTS:
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        if fs.is_candidate(Path(os.fsdecode(path)).name):
            with contextlib.suppress(RuntimeError):  # the loop closed while we shut down
                self._loop.call_soon_threadsafe(self._wake)


class PickupFolder:
    """One pickup hot folder feeding ``submitter``.

    ``picked`` counts files spooled, ``bad`` files moved to the bad folder,
    ``scans`` completed scans. Relative paths are taken from ``base`` (the MTA
    passes its data directory). One folder is watched by one ``PickupFolder``.
    """

    def __init__(
        self,
        spec: Pickup,
        submitter: Submitter,
        *,
        get_config: Callable[[], Config],
        base: Path | None = None,
        max_size: int = MAX_FILE_SIZE,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.spec = spec
        self.folder = _resolve(spec.path, base)
        self.bad_dir = _resolve(spec.bad_dir, base) if spec.bad_dir else self.folder / "bad"
        self.done_dir = _resolve(spec.done_dir, base) if spec.done_dir else self.folder / "done"
        for what, d in (("bad-dir", self.bad_dir), ("done-dir", self.done_dir)):
            if d.resolve() == self.folder.resolve():
                raise ConfigError(
                    f"{what} must not be the pickup folder itself",
                    path=spec.where.path,
                    line=spec.where.line,
                    section=f"pickup {spec.path}",
                )
        self.picked = 0
        self.bad = 0
        self.scans = 0
        self._submitter = submitter
        self._get_config = get_config
        self._max_size = max_size
        self._batch_size = batch_size
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._held = False
        self._task: asyncio.Task[None] | None = None
        self._observer: BaseObserver | None = None
        # Claimed files already spooled whose removal failed: finish them, never resubmit.
        self._spooled: set[Path] = set()

    async def start(self) -> None:
        """Create the directories, start the observer and the scanning task."""
        if self._task is not None:
            return
        dirs = [self.folder, self.bad_dir]
        if not self.spec.delete_after_read:
            dirs.append(self.done_dir)
        try:
            for d in dirs:
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalError(f"pickup: cannot create {exc.filename}: {exc.strerror}") from exc
        loop = asyncio.get_running_loop()
        self._stop_event.clear()
        observer = Observer()
        observer.schedule(_Wake(loop, self._wake.set), str(self.folder), recursive=False)
        try:
            observer.start()
            self._observer = observer
        except OSError as exc:  # e.g. the inotify watch limit: the timer still scans
            log.warning("pickup %s: no file-system events (%s); scanning only", self.folder, exc)
        self._task = asyncio.create_task(self._run(), name=f"pickup {self.folder}")
        log.info("pickup %s: started", self.folder)

    async def stop(self) -> None:
        """Stop watching; let the file in hand finish (within a grace period)."""
        self._stop_event.set()
        self._wake.set()
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, _STOP_GRACE)
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, _STOP_GRACE)
        self._stop_event.clear()  # scan_once may be called by hand again
        log.info("pickup %s: stopped (%d picked, %d bad)", self.folder, self.picked, self.bad)

    async def _run(self) -> None:
        interval = self.spec.scan_interval if self.spec.scan_interval > 0 else 5.0
        while not self._stop_event.is_set():
            self._wake.clear()
            try:
                await self.scan_once()
            except Exception:  # a bug must not stop the folder for good: log, scan again
                log.exception("pickup %s: scan failed", self.folder)
                self._held = True
            # After a failure only the timer (or stop) ends the pause: the files
            # renamed back would otherwise wake us at once, in a loop.
            event = self._stop_event if self._held else self._wake
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), interval)

    async def scan_once(self) -> int:
        """Process what the folder holds now; return the number of files spooled."""
        async with self._lock:
            self._held = False
            submitted = 0
            while not self._stop_event.is_set():
                try:
                    batch = await asyncio.to_thread(fs.oldest, self.folder, self._batch_size)
                except OSError as exc:
                    raise LocalError(f"pickup: cannot list {self.folder}: {exc.strerror}") from exc
                targets = self._targets()
                progressed = False
                for candidate in batch:
                    if self._stop_event.is_set():
                        break
                    outcome = await self._handle(candidate, targets)
                    submitted += 1 if outcome == "picked" else 0
                    progressed |= outcome in ("picked", "bad")
                    if outcome == "held":
                        self._held = True
                        break
                if self._held or len(batch) < self._batch_size or not progressed:
                    break
            self.scans += 1
            return submitted

    def _targets(self) -> frozenset[str]:
        config = self._get_config()
        return frozenset(config.virtual_mtas) | frozenset(config.pools)

    def _load(self, claimed: Path, targets: frozenset[str]) -> Submission | Refused:
        data = fs.read_limited(claimed, self._max_size)
        if isinstance(data, str):
            return Refused(data)
        return parse_pickup_file(data, default_vmta=self.spec.virtual_mta, targets=targets)

    async def _handle(self, candidate: fs.Candidate, targets: frozenset[str]) -> Outcome:
        try:
            claimed = await asyncio.to_thread(fs.claim, candidate)
        except OSError as exc:  # e.g. the folder is not writable: nothing can be taken
            log.error("pickup %s: cannot claim %s: %s", self.folder, candidate.name, exc)
            return "skipped"
        if claimed is None:
            return "skipped"
        name = candidate.name
        resolved = False
        try:
            if claimed in self._spooled:
                resolved = await self._finish(claimed, name)
                return "skipped"
            loaded = await asyncio.to_thread(self._load, claimed, targets)
            if isinstance(loaded, Refused):
                try:
                    target = await asyncio.to_thread(
                        fs.set_aside, claimed, self.bad_dir, name, loaded.reason
                    )
                except OSError as exc:
                    log.error(
                        "pickup %s: cannot move %s to %s: %s", self.folder, name, self.bad_dir, exc
                    )
                    return "held"
                resolved = True
                self.bad += 1
                log.warning("pickup %s: %s → %s: %s", self.folder, name, target, loaded.reason)
                return "bad"
            try:
                ids = await self._submitter.submit(loaded)
            except LocalError as exc:
                log.warning("pickup %s: %s left for the next scan: %s", self.folder, name, exc)
                return "held"
            # Spooled: from here the file must never be released for a second submit.
            self._spooled.add(claimed)
            resolved = await self._finish(claimed, name)
            self.picked += 1
            log.info(
                "pickup %s: %s spooled as %s (%d recipients, vmta %s)",
                self.folder,
                name,
                ",".join(ids),
                len(loaded.recipients),
                loaded.vmta or "-",
            )
            return "picked"
        finally:
            if not resolved and claimed not in self._spooled:
                self._release(claimed, name)

    async def _finish(self, claimed: Path, name: str) -> bool:
        """Delete the spooled file or move it to done/; say whether that worked."""
        try:
            if self.spec.delete_after_read:
                await asyncio.to_thread(claimed.unlink)
            else:
                await asyncio.to_thread(fs.set_aside, claimed, self.done_dir, name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error(
                "pickup %s: %s spooled but not removed (will retry): %s", self.folder, name, exc
            )
            return False
        self._spooled.discard(claimed)
        return True

    def _release(self, claimed: Path, name: str) -> None:
        try:
            fs.release(claimed, name)
        except OSError as exc:
            # Still claimed: the next scan reads it again as a leftover.
            log.error("pickup %s: cannot give %s back: %s", self.folder, name, exc)

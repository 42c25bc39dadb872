"""An append-only CSV file with a header row, rotated by size and age (shared by the log writers).

The accounting file and the reject log rotate the same way: when the live file
reaches ``max_size`` bytes or has been open for ``move_interval`` seconds, it is
renamed (atomically) to ``NAME-YYYY-MM-DD-HHMMSS.csv`` — into ``move_to`` when
given — and the next write starts a new file with a fresh header. A tailer
following the directory sees a rename, which it handles as rotation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

Clock = Callable[[], datetime]
FLUSH_BYTES = 64 * 1024  # held rows are written once they reach this much (as a buffer would)


class RotatingFile:
    """Append whole rows to ``path``; write ``header`` first in every new file."""

    def __init__(
        self,
        path: Path,
        header: bytes,
        *,
        max_size: int | None = None,
        move_interval: float | None = None,
        move_to: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.path = path
        self.header = header
        self.max_size = max_size
        self.move_interval = move_interval
        self.move_to = move_to
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stream: BinaryIO | None = None
        self._opened_at = self._clock()
        self._size = 0
        self._held: list[bytes] = []  # rows not yet in the file, oldest first
        self._held_bytes = 0
        self.error: OSError | None = None  # why the last flush failed (None once one succeeds)

    @property
    def held(self) -> int:
        """Rows waiting to be written (after a failed flush: rows kept for the next)."""
        return len(self._held)

    def _open(self) -> BinaryIO:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: the rows are batched in _held, so a failed write is known
            # exactly and undone (see flush), never left half done in a buffer.
            stream = self.path.open("ab", buffering=0)
            # The size the file will have once the held rows (and, for a new file,
            # the header) are written: the rotation decision counts every byte.
            end = stream.tell()
            self._size = end + self._held_bytes + (0 if end else len(self.header))
            self._stream = stream
            self._opened_at = self._clock()
        return self._stream

    def write(self, row: bytes) -> None:
        """Append one encoded row, rotating first when due; never raises on a full disk.

        The row is held until the next :meth:`flush` (or until enough rows are held).
        """
        if self.error is None:
            try:
                self._rotate_if_due()
            except OSError as exc:  # rotation needs the held rows written first
                self.error = exc
        self._held.append(row)
        self._held_bytes += len(row)
        self._size += len(row)
        if self._held_bytes >= FLUSH_BYTES and self.error is None:
            with contextlib.suppress(OSError):  # kept in self.error; the rows stay held
                self.flush()

    def flush(self, *, fsync: bool = False) -> None:
        """Write the held rows (and sync them to disk with ``fsync``).

        Raises OSError when they cannot be written; they are then kept for the next call.
        """
        if self._held:
            start, written = -1, 0
            parts: list[bytes] = []
            try:
                stream = self._open()
                start = os.fstat(stream.fileno()).st_size
                parts = [self.header, *self._held] if start == 0 else list(self._held)
                view = memoryview(b"".join(parts))
                while view:
                    n = stream.write(view) or 0
                    written += n
                    view = view[n:]
            except OSError as exc:
                self.error = exc
                if start >= 0 and self._stream is not None:
                    self._keep_whole(parts, start, written)
                raise
            self._held.clear()
            self._held_bytes = 0
            self.error = None
        if fsync and self._stream is not None:
            os.fsync(self._stream.fileno())

    def _keep_whole(self, parts: list[bytes], start: int, written: int) -> None:
        """After a short write: keep the whole rows that reached the file, cut the part of
        the next one, and hold only the rows not written.

        Cutting the whole batch off instead would shrink the file under a tailer that
        may have read those rows already: it would take the file for a new one (copy-
        truncate) and ingest every row again.
        """
        kept = whole = 0
        for part in parts:
            if kept + len(part) > written:
                break
            kept, whole = kept + len(part), whole + 1
        if self._stream is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._stream.fileno(), start + kept)
        rows = whole - (len(parts) - len(self._held))  # the header, when it led, is no row
        if rows > 0:
            del self._held[:rows]
            self._held_bytes = sum(map(len, self._held))

    def rotate_if_due(self) -> Path | None:
        """Rotate now if ``max-size`` or ``move-interval`` says so (also with no new rows)."""
        return self.rotate() if self._is_due() else None

    def _rotate_if_due(self) -> None:
        if self._is_due():
            self.rotate()

    def _is_due(self) -> bool:
        """The one rotation decision: a live file at ``max-size`` or open ``move-interval``."""
        if self._stream is None and not self._held and not self.path.exists():
            return False
        too_big = self.max_size is not None and self._size >= self.max_size
        age = (self._clock() - self._opened_at).total_seconds()
        return too_big or (self.move_interval is not None and age >= self.move_interval)

    def rotate(self) -> Path | None:
        """Close the live file and rename it aside; the next write starts a new one."""
        self.flush(fsync=True)  # held rows belong to the file being rotated
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        # The next file starts with its header only: a size carried over would rotate
        # every later row into a file of its own.
        self._size = len(self.header)
        # Likewise its age: rows held before its first flush must not find the old
        # file's move-interval already over (each would rotate into a file of its own).
        self._opened_at = self._clock()
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        folder = Path(self.move_to) if self.move_to else self.path.parent  # see resolve_move_to
        folder.mkdir(parents=True, exist_ok=True)
        stamp = self._clock().strftime("%Y-%m-%d-%H%M%S")
        target = folder / f"{self.path.stem}-{stamp}{self.path.suffix}"
        n = 1
        while target.exists():
            target = folder / f"{self.path.stem}-{stamp}-{n}{self.path.suffix}"
            n += 1
        self.path.replace(target)
        return target

    def close(self) -> None:
        """Flush to disk and close the live file (it is not rotated)."""
        self.flush(fsync=True)
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def resolve_move_to(base: Path, move_to: str | None) -> str | None:
    """``move-to`` as the file writer uses it: a relative folder is under ``base``
    (the data directory, like the file's own path), never under the working directory."""
    if not move_to:
        return None
    folder = Path(move_to)
    return str(folder if folder.is_absolute() else base / folder)

"""An append-only CSV file with a header row, rotated by size and age (shared by the log writers).

The accounting file and the reject log rotate the same way: when the live file
reaches ``max_size`` bytes or has been open for ``move_interval`` seconds, it is
renamed (atomically) to ``NAME-YYYY-MM-DD-HHMMSS.csv`` — into ``move_to`` when
given — and the next write starts a new file with a fresh header. A tailer
following the directory sees a rename, which it handles as rotation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

Clock = Callable[[], datetime]


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

    def _open(self) -> BinaryIO:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.path.open("ab")
            self._size = stream.tell()
            if self._size == 0:
                self._size += stream.write(self.header)
            self._stream = stream
            self._opened_at = self._clock()
        return self._stream

    def write(self, row: bytes) -> None:
        """Append one encoded row (one ``write`` call), rotating first when due."""
        self._rotate_if_due()
        # Open first: ``self._size += self._open().write(row)`` would read the old
        # size before _open resets it for a new file, so every later write rotated.
        stream = self._open()
        self._size += stream.write(row)

    def flush(self, *, fsync: bool = False) -> None:
        """Push buffered rows to the OS (and to disk with ``fsync``)."""
        if self._stream is not None:
            self._stream.flush()
            if fsync:
                os.fsync(self._stream.fileno())

    def rotate_if_due(self) -> Path | None:
        """Rotate now if ``max-size`` or ``move-interval`` says so (also with no new rows)."""
        return self.rotate() if self._is_due() else None

    def _rotate_if_due(self) -> None:
        if self._is_due():
            self.rotate()

    def _is_due(self) -> bool:
        """The one rotation decision: a live file at ``max-size`` or open ``move-interval``."""
        if self._stream is None and not self.path.exists():
            return False
        too_big = self.max_size is not None and self._size >= self.max_size
        age = (self._clock() - self._opened_at).total_seconds()
        return too_big or (self.move_interval is not None and age >= self.move_interval)

    def rotate(self) -> Path | None:
        """Close the live file and rename it aside; the next write starts a new one."""
        if self._stream is not None:
            self.flush(fsync=True)
            self._stream.close()
            self._stream = None
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
        if self._stream is not None:
            self.flush(fsync=True)
            self._stream.close()
            self._stream = None


def resolve_move_to(base: Path, move_to: str | None) -> str | None:
    """``move-to`` as the file writer uses it: a relative folder is under ``base``
    (the data directory, like the file's own path), never under the working directory."""
    if not move_to:
        return None
    folder = Path(move_to)
    return str(folder if folder.is_absolute() else base / folder)

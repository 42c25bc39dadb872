"""The accounting file writer: PowerMTA's ``<acct-file>`` with records, fields and rotation.

One header row with the union of the configured fields (PowerMTA's rule when
record types share a file), then one row per event of a configured type. The
live file rotates when it reaches ``max-size`` or has been open for
``move-interval``: it is renamed (atomically) to ``NAME-YYYY-MM-DD-HHMMSS.csv``
— into ``move-to`` when given — and a new file with a fresh header starts. A
tailer following the directory sees a rename, which it handles as rotation.

Rows are written whole (one ``write`` each) and flushed by :meth:`flush`, which
the MTA calls after each delivery batch; ``fsync`` is available for callers
that need the row on disk before acting on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from mta.acct import DEFAULT_FIELDS, FEEDBACK_FIELDS, AccountingEncoder, union_fields
from mta.config.model import AcctFile

__all__ = ["AccountingFile", "fields_for"]

Clock = Callable[[], datetime]


def _type_fields(spec: AcctFile, kind: str) -> tuple[str, ...]:
    chosen = spec.record_fields.get(kind)
    if chosen is None or chosen == ("*",):
        chosen = DEFAULT_FIELDS + (FEEDBACK_FIELDS if kind == "f" else ())
    return ("type", *(f for f in chosen if f != "type"))


def fields_for(spec: AcctFile) -> tuple[str, ...]:
    """The header of an accounting file: the union of its record types' fields."""
    lists = [_type_fields(spec, kind) for kind in spec.records]
    return union_fields(*lists) if lists else ("type",)


class AccountingFile:
    """Append accounting records to one ``<acct-file>``, rotating it as configured."""

    def __init__(self, spec: AcctFile, base: Path, *, clock: Clock | None = None) -> None:
        self.spec = spec
        path = Path(spec.path)
        self.path = path if path.is_absolute() else base / path
        self._clock = clock or (lambda: datetime.now(UTC))
        self._encoder = AccountingEncoder(fields_for(spec))
        # Each record type fills only its own fields (PowerMTA's rule for shared files).
        self._fields = {kind: frozenset(_type_fields(spec, kind)) for kind in spec.records}
        self._stream: BinaryIO | None = None
        self._opened_at = self._clock()
        self._size = 0

    def _open(self) -> BinaryIO:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = self.path.open("ab")
            self._size = stream.tell()
            if self._size == 0:
                self._size += stream.write(self._encoder.header())
            self._stream = stream
            self._opened_at = self._clock()
        return self._stream

    def write(self, record: Mapping[str, object]) -> bool:
        """Write ``record`` if its type is configured for this file; say whether it was."""
        own = self._fields.get(str(record.get("type")))
        if own is None:
            return False
        self._rotate_if_due()
        stream = self._open()
        row = {name: value for name, value in record.items() if name in own}
        self._size += stream.write(self._encoder.encode(row))
        return True

    def flush(self, *, fsync: bool = False) -> None:
        """Push buffered rows to the OS (and to disk with ``fsync``)."""
        if self._stream is not None:
            self._stream.flush()
            if fsync:
                os.fsync(self._stream.fileno())

    def _rotate_if_due(self) -> None:
        if self._stream is None and not self.path.exists():
            return
        too_big = self.spec.max_size is not None and self._size >= self.spec.max_size
        age = (self._clock() - self._opened_at).total_seconds()
        too_old = self.spec.move_interval is not None and age >= self.spec.move_interval
        if too_big or too_old:
            self.rotate()

    def rotate(self) -> Path | None:
        """Close the live file and rename it aside; the next write starts a new one."""
        if self._stream is not None:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()
            self._stream = None
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        folder = Path(self.spec.move_to) if self.spec.move_to else self.path.parent
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

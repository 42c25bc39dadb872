"""The reject-log writer: ``<rejectlog-file PATH>``, one CSV row per refused SMTP command.

The format is :mod:`mta.acct.rejectlog`'s (header row, then :func:`encode_reject`
rows, which cut an ``AUTH`` command down to its mechanism). The file rotates
like the accounting file (``max-size``, ``move-interval``, ``move-to``; see
:mod:`mta.acct.rotating`). ``records`` picks which refusals are written, by the SMTP
stage that refused: ``connect``, ``helo``, ``auth``, ``mail``, ``rcpt``, ``data``.

Each row is flushed to the OS as it is written: refusals are rare and an
operator watching the file wants to see one as it happens. On a full disk the
rows are held for the next write, up to ``MAX_HELD`` (a refusal storm must not
fill the memory); past that, new rows are counted in ``dropped`` and lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from mta.acct.rejectlog import (
    REJECT_KINDS,
    RejectKind,
    RejectRecord,
    encode_reject,
    encode_reject_header,
)
from mta.acct.rotating import Clock, RotatingFile, resolve_move_to

if TYPE_CHECKING:
    # only in annotations: the config model imports the field list from mta.acct
    from mta.config.model import RejectLog

__all__ = ["REJECT_KINDS", "RejectKind", "RejectLogFile"]

MAX_HELD: Final = 10_000


class RejectLogFile:
    """Append refusals to one ``<rejectlog-file>``, rotating it as configured."""

    def __init__(self, spec: RejectLog, base: Path, *, clock: Clock | None = None) -> None:
        self.spec = spec
        path = Path(spec.path)
        self.path = path if path.is_absolute() else base / path
        self._kinds = frozenset(spec.records)
        self.dropped = 0  # rows lost because too many were held on a full disk
        self._file = RotatingFile(
            self.path,
            encode_reject_header(),
            max_size=spec.max_size,
            move_interval=spec.move_interval,
            move_to=resolve_move_to(base, spec.move_to),
            clock=clock,
        )

    def write(self, kind: RejectKind, record: RejectRecord) -> bool:
        """Write ``record`` if refusals at stage ``kind`` are recorded; say whether it was."""
        if kind not in self._kinds:
            return False
        if self._file.held >= MAX_HELD:
            self.dropped += 1
        else:
            self._file.write(encode_reject(record))
        self._file.flush()  # raises OSError while the disk is full (the row is held)
        return True

    def rotate(self) -> Path | None:
        """Close the live file and rename it aside; the next write starts a new one."""
        return self._file.rotate()

    def close(self) -> None:
        """Flush to disk and close the live file (it is not rotated)."""
        self._file.close()

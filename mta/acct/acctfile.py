"""The accounting file writer: PowerMTA's ``<acct-file>`` with records, fields and rotation.

One header row with the union of the configured fields (PowerMTA's rule when
record types share a file), then one row per event of a configured type. The
live file rotates when it reaches ``max-size`` or has been open for
``move-interval``: it is renamed (atomically) to ``NAME-YYYY-MM-DD-HHMMSS.csv``
— into ``move-to`` when given — and a new file with a fresh header starts. A
tailer following the directory sees a rename, which it handles as rotation.

Rows are held in memory and written whole, in batches, by :meth:`flush`,
which the MTA calls before a message leaves its spool state and on a timer;
``fsync`` is available for callers that need the row on disk before acting on
it. On a full disk the rows stay held (``error`` says why) until a flush
succeeds: records are delayed, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mta.acct import DEFAULT_FIELDS, FEEDBACK_FIELDS, AccountingEncoder, union_fields
from mta.acct.rotating import Clock, RotatingFile, resolve_move_to

if TYPE_CHECKING:
    # only in annotations: the config model imports the field list from mta.acct
    from mta.config.model import AcctFile

__all__ = ["AccountingFile", "fields_for"]


def _type_fields(spec: AcctFile, kind: str) -> tuple[str, ...]:
    chosen = spec.record_fields.get(kind) or ("*",)
    every = DEFAULT_FIELDS + (FEEDBACK_FIELDS if kind == "f" else ())
    # "*" stands for the default fields wherever it appears ("*,header_X-Job" adds one).
    expanded = [f for name in chosen for f in (every if name == "*" else (name,))]
    return ("type", *dict.fromkeys(f for f in expanded if f != "type"))


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
        self._encoder = AccountingEncoder(fields_for(spec))
        # Each record type fills only its own fields (PowerMTA's rule for shared files).
        self._fields = {kind: frozenset(_type_fields(spec, kind)) for kind in spec.records}
        self._file = RotatingFile(
            self.path,
            self._encoder.header(),
            max_size=spec.max_size,
            move_interval=spec.move_interval,
            move_to=resolve_move_to(base, spec.move_to),
            clock=clock,
        )

    def write(self, record: Mapping[str, object]) -> bool:
        """Write ``record`` if its type is configured for this file; say whether it was."""
        own = self._fields.get(str(record.get("type")))
        if own is None:
            return False
        row = {name: value for name, value in record.items() if name in own}
        self._file.write(self._encoder.encode(row))
        return True

    def flush(self, *, fsync: bool = False) -> None:
        """Write the held rows (and sync with ``fsync``); OSError keeps them for next time."""
        self._file.flush(fsync=fsync)

    @property
    def error(self) -> OSError | None:
        """Why rows are held after a failed flush (None when the file is writable)."""
        return self._file.error

    @property
    def held(self) -> int:
        """Rows not yet written to the file."""
        return self._file.held

    def rotate(self) -> Path | None:
        """Close the live file and rename it aside; the next write starts a new one."""
        return self._file.rotate()

    def rotate_if_due(self) -> Path | None:
        """Rotate if ``max-size`` or ``move-interval`` is reached (called on a timer)."""
        return self._file.rotate_if_due()

    def close(self) -> None:
        """Flush to disk and close the live file (it is not rotated)."""
        self._file.close()

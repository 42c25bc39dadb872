"""Where accepted ESP notifications go: an accounting file the tailer follows, fsynced.

The API process never writes DuckDB (the tailer is its one writer); it writes
the records of each accepted notification to ``DIR/PREFIX.csv`` with the MTA's
own accounting writer (:class:`mta.acct.acctfile.AccountingFile`, rotated at
``max_size``) and syncs the file to disk before the request is answered, so
a notification answered 200 is never lost.

**Deduplication by id, within a bounded window.** A provider retries a post it
saw no 200 for, and SNS may deliver a message twice: the last
``dedupe_window`` notification ids written are remembered, and an event whose
id is among them writes nothing. The window is rebuilt at start from the
``header_X-Esp-Id`` column of the ESP files in the directory (newest first),
so a restart does not forget it. A repeat older than the window is written
again (the events table then holds it twice under the same id).

When the disk refuses the write, the request fails (503) but its ids are
remembered and its rows stay held by the writer until a later flush succeeds:
the provider's retry is then answered 200 without a second row. Were the
process to die meanwhile, the memory goes with the rows, and the retry writes them.
"""

from __future__ import annotations

import csv
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from acctpipe.esp.events import ESP_ID_FIELD
from mta.acct.acctfile import AccountingFile
from mta.config import Where
from mta.config.model import AcctFile

__all__ = ["EspSink", "Written"]

Record = dict[str, object]
Written = tuple[int, int]  # (records written, events already written before)
_FIELDS = ("*", "header_X-Acctpipe-Id", ESP_ID_FIELD)


class EspSink:
    """Append the records of ESP events to ``directory/prefix.csv``, at most once per id."""

    def __init__(
        self, directory: Path, *, prefix: str = "esp-acct", window: int, max_size: int
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.window = window
        spec = AcctFile(
            path=f"{prefix}.csv",
            records=("rb", "rs", "f"),
            record_fields=dict.fromkeys(("rb", "rs", "f"), _FIELDS),
            max_size=max_size,
            move_interval=None,
            move_to=None,
            delete_after=None,
            where=Where("esp-settings", 0),
        )
        directory.mkdir(parents=True, exist_ok=True)
        self._file = AccountingFile(spec, directory)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        for ident in recorded_ids(directory, prefix, window):
            self._remember(ident)

    @property
    def path(self) -> Path:
        """The live accounting file."""
        return self._file.path

    def _remember(self, ident: str) -> None:
        self._seen[ident] = None
        self._seen.move_to_end(ident)
        while len(self._seen) > self.window:
            self._seen.popitem(last=False)

    def write(self, events: Sequence[tuple[str, Sequence[Record]]]) -> Written:
        """Write the records of each ``(event id, records)`` not written before; fsync.

        Raises OSError when the file cannot be written and synced (the ids are
        remembered and the rows held for the next flush: see the module docstring).
        """
        written = duplicates = 0
        with self._lock:
            batch: set[str] = set()
            for ident, records in events:
                if ident in self._seen or ident in batch:
                    duplicates += 1
                    continue
                batch.add(ident)
                for record in records:
                    written += self._file.write(record)
            for ident in batch:
                self._remember(ident)
            self._file.flush(fsync=True)
        return written, duplicates

    def close(self) -> None:
        """Flush and close the live file."""
        with self._lock:
            self._file.close()


def recorded_ids(directory: Path, prefix: str, limit: int) -> list[str]:
    """The last ``limit`` ESP ids in the ESP files of ``directory``, oldest first."""
    files = sorted(directory.glob(f"{prefix}*.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    found: list[str] = []
    for path in files:
        ids = list(dict.fromkeys(_ids_of(path)))
        found[:0] = ids
        if len(found) >= limit:
            break
    return found[-limit:] if limit else []


def _ids_of(path: Path) -> Iterable[str]:
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as stream:
            reader = csv.reader(stream)
            header = next(reader, [])
            if ESP_ID_FIELD not in header:
                return
            column = header.index(ESP_ID_FIELD)
            for row in reader:
                if len(row) > column and row[column]:
                    yield row[column]
    except OSError:
        return

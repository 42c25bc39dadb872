"""Read one file from its committed offset to its end, committing batch by batch.

The file is opened by path but identified by what is open (``fstat`` plus the
first bytes), so a rename between listing and opening cannot confuse it. Each
batch's rows, quarantined records and the decoder's offset and header are one
:meth:`~acctpipe.eventstore.Store.commit_batch`. A partial last line is left for
the next pass: the decoder holds it back and its offset stays before it.

Batches are typed and committed on one worker thread while the next batch is
decoded (polars and DuckDB release the GIL). Commits still run one at a time,
in file order, each in its own transaction; at most one waits, and
:meth:`Loader.load` returns only when the last is done (or raises its error).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from acctpipe.eventstore import FileState, Store
from acctpipe.ingest.bulk import RowBlock, parse_block
from acctpipe.ingest.files import decoder_for, kind_of
from acctpipe.ingest.frames import events_frame, rejects_frame
from acctpipe.ingest.identity import HEADER_PROBE, FileIdentity, fingerprint, identify
from acctpipe.ingest.verdicts import Verdicts
from classifiers import RuleTable
from mta.acct import AccountingDecoder, MalformedRow, RejectLogDecoder, RejectRow, Row

__all__ = ["ROW_GROUP", "IngestStats", "Loader"]

ROW_GROUP = 122_880
"""DuckDB's row group size. A large batch is committed in whole row groups (the rest
waits for the next batch): then every insert writes full row groups straight to the
table, and no checkpoint has to rewrite a partly filled one."""


@dataclass(slots=True)
class IngestStats:
    """Running totals of what was committed."""

    files: int = 0
    rows: int = 0
    quarantined: int = 0
    bytes: int = 0
    types: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)


class Loader:
    """Ingest files into a :class:`Store`, ``batch_rows`` rows per transaction."""

    def __init__(
        self,
        store: Store,
        *,
        batch_rows: int = 20_000,
        chunk_size: int = 4 << 20,
        table: RuleTable | None = None,
        table_source: Callable[[], RuleTable | None] | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
        row_group: int = ROW_GROUP,
    ) -> None:
        self.store = store
        self.stats = IngestStats()
        self._batch_rows = batch_rows
        self._chunk_size = chunk_size
        self._table = table
        # Asked for the table as each batch is typed, after its bytes were read: rows
        # appended after a reload are classified by the reloaded table, whenever the
        # pass that reads them began.
        self._table_source = table_source
        self._stop = stop or threading.Event()
        self._progress = progress
        self._row_group = row_group
        self._pending: Future[None] | None = None
        # Verdicts of the diagnostics seen so far (used on the commit worker only).
        self._verdicts = Verdicts()

    @property
    def table(self) -> RuleTable | None:
        """The rule table batches are classified with (None: the default table)."""
        return self._table

    @table.setter
    def table(self, table: RuleTable | None) -> None:
        # One reference swap: a batch reads it once, so it never mixes two tables.
        self._table = table

    def pending_bytes(self, path: Path) -> int:
        """Bytes of ``path`` not yet committed (its whole size if unknown)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        try:
            ident = identify(fd)
            state = self._match(ident, fd)
            return ident.size - (state.offset if state else 0)
        finally:
            os.close(fd)

    def load(self, path: Path) -> None:
        """Read ``path`` from its committed offset to its last complete record."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return  # deleted after discovery; if it was read, its rows are in
        try:
            ident = identify(fd)
            state = self._resolve(path, ident, fd)
            if state is not None and ident.size > state.offset:
                self.stats.files += 1
                with ThreadPoolExecutor(1, thread_name_prefix="acctpipe-commit") as worker:
                    try:
                        self._read(fd, str(path), ident, state, worker)
                    finally:
                        self._wait()
        finally:
            os.close(fd)

    def _wait(self) -> None:
        """Wait for the batch being committed, if any; raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _submit(
        self,
        worker: ThreadPoolExecutor,
        fd: int,
        state: FileState,
        to: tuple[int, tuple[str, ...] | None],
        rows: Sequence[Row | RowBlock],
        rejects: list[RejectRow],
        bad: list[MalformedRow],
        size_seen: int,
    ) -> FileState:
        """Hand the batch to the worker once the previous one is committed; the state after it."""
        self._wait()
        after = state.advanced(offset=to[0], header=to[1])
        self._pending = worker.submit(self._flush, fd, after, rows, rejects, bad, size_seen)
        return after

    def _match(self, ident: FileIdentity, fd: int) -> FileState | None:
        for state in self.store.states_for_inode(ident.device, ident.inode):
            if ident.size >= state.offset and ident.has_prefix(
                fd, state.fingerprint, state.fingerprint_len
            ):
                return state
        # A copy of a file already read (copy-truncate) is the same stream at the same
        # offset. Compare at each known file's own fingerprint length, and only past
        # the header, which every file of a kind shares.
        for length in self.store.fingerprint_lengths():
            if not ident.header_len < length <= ident.size:
                continue
            digest = (
                ident.fingerprint
                if length == ident.fingerprint_len
                else fingerprint(os.pread(fd, length, 0))
            )
            origin = self.store.state_for_fingerprint(digest, length)
            if origin is not None and ident.size >= origin.offset:
                return origin
        return None

    def _resolve(self, path: Path, ident: FileIdentity, fd: int) -> FileState | None:
        state = self._match(ident, fd)
        if state is not None:
            return state
        for stale in self.store.states_for_inode(ident.device, ident.inode):
            # Same inode, other content (copy-truncate, or an inode reused): start over.
            self.store.set_status(stale.file_id, "truncated")
        kind = kind_of(os.pread(fd, HEADER_PROBE, 0), ident.size)
        if kind is None:
            return None  # not even one complete line yet
        fingerprint = (ident.fingerprint, ident.fingerprint_len)
        return self.store.new_file(str(path), kind, ident.device, ident.inode, fingerprint)

    def _read(
        self, fd: int, path: str, ident: FileIdentity, state: FileState, worker: ThreadPoolExecutor
    ) -> None:
        decoder = decoder_for(state.kind, fd, state.offset, state.header)
        state = state.advanced(
            path=path,
            device=ident.device,
            inode=ident.inode,
            fingerprint=ident.fingerprint,
            fingerprint_len=ident.fingerprint_len,
        )
        rows: list[Row | RowBlock] = []
        pending_rows = 0
        rejects: list[RejectRow] = []
        bad: list[MalformedRow] = []
        position = state.offset
        committed = state.offset
        while not self._stop.is_set():
            chunk = os.pread(fd, self._chunk_size, position)
            if not chunk:
                break
            position += len(chunk)
            events = (
                decoder.feed_bulk(chunk, parse_block)
                if isinstance(decoder, AccountingDecoder)
                else decoder.feed(chunk)
            )
            for event in events:
                if isinstance(event, Row | RowBlock):
                    rows.append(event)
                    pending_rows += event.height if isinstance(event, RowBlock) else 1
                elif isinstance(event, RejectRow):
                    rejects.append(event)
                elif isinstance(event, MalformedRow):
                    bad.append(event)
            if pending_rows + len(rejects) >= self._batch_rows:
                cut = _aligned_cut(rows, pending_rows, self._row_group)
                if cut is None:
                    state = self._submit(
                        worker, fd, state, _position(decoder, state), rows, rejects, bad, position
                    )
                    rows, rejects, bad, pending_rows = [], [], [], 0
                else:
                    now, rows, at, fields = cut
                    early = [m for m in bad if m.offset < at]
                    bad = bad[len(early) :]
                    state = self._submit(worker, fd, state, (at, fields), now, [], early, position)
                    pending_rows = sum(r.height if isinstance(r, RowBlock) else 1 for r in rows)
                committed = self._advance(committed, state.offset)
        if decoder.offset != state.offset:
            state = self._submit(
                worker, fd, state, _position(decoder, state), rows, rejects, bad, position
            )
            self._advance(committed, state.offset)

    def _advance(self, before: int, after: int) -> int:
        self.stats.bytes += after - before
        if self._progress is not None:
            self._progress(after - before)
        return after

    def _flush(
        self,
        fd: int,
        state: FileState,
        rows: Sequence[Row | RowBlock],
        rejects: list[RejectRow],
        bad: list[MalformedRow],
        size_seen: int,
    ) -> None:
        """Type the batch and commit it with the file moved to ``state`` (on the worker)."""
        table = self._table if self._table_source is None else self._table_source()
        frame, refused = events_frame(
            rows, state.path, state.file_id, table=table, verdicts=self._verdicts
        )
        bad = bad + [
            MalformedRow(r.offset, r.length, os.pread(fd, r.length, r.offset), r.reason)
            for r in refused
        ]
        reject_frame = rejects_frame(rejects, state.path, state.file_id) if rejects else None
        newest = frame.get_column("time_logged").max() if frame.height else None
        if reject_frame is not None:
            newest = reject_frame.get_column("time_logged").max()
        self.store.commit_batch(
            state,
            events=frame,
            rejects=reject_frame,
            quarantine=bad,
            size_seen=size_seen,
            newest=newest,  # type: ignore[arg-type]
        )
        self.stats.rows += frame.height + len(rejects)
        self.stats.quarantined += len(bad)
        self.stats.types.update(_counts(frame, "type"))
        if reject_frame is not None:
            self.stats.types["reject"] += reject_frame.height
        self.stats.classes.update(_counts(frame, "bounce_class"))


def _position(
    decoder: AccountingDecoder | RejectLogDecoder, state: FileState
) -> tuple[int, tuple[str, ...] | None]:
    """Where the decoder stands: its offset and the header in force there."""
    header = decoder.fields if isinstance(decoder, AccountingDecoder) else state.header
    return decoder.offset, header


def _aligned_cut(
    rows: list[Row | RowBlock], pending: int, row_group: int
) -> tuple[list[Row | RowBlock], list[Row | RowBlock], int, tuple[str, ...]] | None:
    """Split ``rows`` after a whole number of row groups: (first, rest, offset, header).

    The cut is the start of a row inside (or at the start of) a block: its offset is
    where the rest begins and the block's fields are the header in force there. A cut
    that would fall among single rows, or leave nothing on either side, is ``None``.
    """
    wanted = pending // row_group * row_group
    if not 0 < wanted < pending:
        return None
    seen = 0
    for i, item in enumerate(rows):
        height = item.height if isinstance(item, RowBlock) else 1
        if seen + height > wanted:
            if not isinstance(item, RowBlock):
                return None  # a lone row's header may be the default one: commit it all
            head, tail = item.split(wanted - seen)
            first = [*rows[:i], head] if head.height else rows[:i]
            return first, [tail, *rows[i + 1 :]], int(tail.offsets[0]), item.fields
        seen += height
    return None  # pragma: no cover - wanted < pending, so some row passes it


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counted = frame.get_column(column).drop_nulls().value_counts()
    return {str(k): int(n) for k, n in counted.iter_rows()}

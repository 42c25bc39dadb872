"""CSV import and export of the suppression list, streamed.

:func:`import_csv` recognises the common ESP export formats by their header
(the table is in :mod:`acctpipe.sqlstore.suppressions._formats`), reads the file in batches
of ``batch`` rows — one transaction each, never the whole file in memory —
and reports rows it could not use with their line numbers instead of stopping.
A parser thread reads and normalises the next batch while the store writes the
last one (:mod:`acctpipe.sqlstore.suppressions._pipeline`), and each batch goes
through the store's set-based path (:meth:`SuppressionStore.add_many`).
Importing the same file twice changes nothing the second time: a suppression
that is already there is not logged again.

:func:`export_csv` writes ``address,scope,reason,detail,created_at,updated_at,
expires_at`` (ISO 8601, UTC), which :func:`import_csv` reads back as is. A
text cell a spreadsheet would take for a formula (``=…``, ``+…``, ``-…``,
``@…``) is written ``"'=…"`` (see :mod:`acctpipe._csvsafe`); the import of an
acctpipe export removes that quote again.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from acctpipe._csvsafe import Verbatim, csv_line
from acctpipe.policy.normalise import normalise_scope
from acctpipe.policy.types import SuppressionReason
from acctpipe.sqlstore.engine import is_sqlite
from acctpipe.sqlstore.suppressions._fastformats import Memo, compile_reader
from acctpipe.sqlstore.suppressions._formats import (
    ADDRESS_KEYS,
    FORMATS,
    ImportFormat,
    Parsed,
    SkippedRow,
    header_key,
)
from acctpipe.sqlstore.suppressions._pipeline import run_pipeline
from acctpipe.sqlstore.suppressions.bulkwrite import AddRow
from acctpipe.sqlstore.suppressions.model import Suppression
from acctpipe.sqlstore.suppressions.reading import ODD, export_pages
from acctpipe.sqlstore.suppressions.store import SuppressionStore
from mta.errors import BadFormatError, InvalidValueError

__all__ = [
    "EXPORT_COLUMNS",
    "FORMAT_NAMES",
    "ImportReport",
    "RowNote",
    "csv_line",  # the export's line writer (acctpipe._csvsafe), for its tests and benchmarks
    "detect_format",
    "export_chunks",
    "export_csv",
    "export_row",
    "import_csv",
]

EXPORT_COLUMNS: Final = (
    "address",
    "scope",
    "reason",
    "detail",
    "created_at",
    "updated_at",
    "expires_at",
)
FORMAT_NAMES: Final = tuple(f.name for f in FORMATS)
_BY_NAME: Final = {f.name: f for f in FORMATS}
_KEEP_NOTES: Final = 100  # rows listed per kind; the counts cover all of them
DEFAULT_BATCH: Final = 100_000  # rows per transaction: fewer passes over a large list's indexes
_Reader = Any  # a csv.reader (its type is private to the csv module's stub)


@dataclass(frozen=True, slots=True)
class RowNote:
    """Why the row at ``line`` (1-based, as an editor shows it) was not imported."""

    line: int
    message: str


@dataclass(slots=True)
class ImportReport:
    """What an import did. ``bad``/``skipped`` list the first rows; the counts are total."""

    format: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad_count: int = 0
    skipped_count: int = 0
    bad: list[RowNote] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)

    def note(self, line: int, error: ValueError) -> None:
        """Count a row that was skipped on purpose or could not be read."""
        if isinstance(error, SkippedRow):
            self.skipped_count += 1
            if len(self.skipped) < _KEEP_NOTES:
                self.skipped.append(RowNote(line, str(error)))
        else:
            self.bad_count += 1
            if len(self.bad) < _KEEP_NOTES:
                self.bad.append(RowNote(line, str(error)))


def detect_format(header: list[str]) -> ImportFormat | None:
    """The first format whose header test accepts ``header`` (None: not one we know)."""
    keys = frozenset(header_key(h) for h in header)
    return next((f for f in FORMATS if f.detect(keys)), None)


class _Counting(io.RawIOBase):
    """A byte stream that reports how much has been read (for a progress display)."""

    def __init__(self, raw: IO[bytes], progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._progress(len(data))
        return len(data)


def _looks_like_address(fields: list[str]) -> bool:
    first = fields[0].strip() if fields else ""
    return "@" in first and header_key(first) not in ADDRESS_KEYS


@contextmanager
def _text(source: IO[bytes], progress: Callable[[int], None] | None) -> Iterator[IO[str]]:
    raw: IO[bytes] = source
    if progress is not None:
        raw = io.BufferedReader(_Counting(source, progress))
    # utf-8-sig drops the byte-order mark spreadsheet exports start with; a byte that
    # is not UTF-8 becomes U+FFFD, so that row is reported as bad, not the import aborted.
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()  # the caller owns ``source``: do not close it


def _is_content(fields: list[str]) -> bool:
    return any(f.strip() for f in fields) and not fields[0].lstrip().startswith("#")


def _dialect(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def import_csv(
    store: SuppressionStore,
    source: Path | IO[bytes],
    *,
    format: str = "auto",
    scope: str | None = None,
    reason: SuppressionReason | None = None,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    written: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the suppressions in ``source`` (a path or a binary stream) into ``store``.

    ``format`` is ``auto`` (detect from the header) or one of :data:`FORMAT_NAMES`;
    ``scope`` puts every row in that scope (default: the row's own scope in an
    acctpipe export, else ``global``); ``reason`` replaces every row's reason.
    Rows without a time of their own are dated ``now`` (default: the current
    time). ``progress`` is called with the number of bytes read as reading
    advances; ``written`` with the number of rows of each batch once it is committed.
    A file whose format cannot be recognised raises ValueError before anything is
    written.
    """
    job = _Import(
        store=store,
        fixed_scope=normalise_scope(scope) if scope else None,
        reason=reason,
        now=now or datetime.now(UTC),
        written=written,
    )
    if isinstance(source, Path):
        job.name = source.name
        with source.open("rb") as stream, _text(stream, progress) as text:
            return job.run(iter(text), format, batch)
    # A stream's name only when it is a real file's: an upload spooled in memory has
    # None (its detail read "imported list (None)"), one spooled to disk an fd number.
    name = getattr(source, "name", None)
    job.name = Path(name).name if isinstance(name, str) and not name.startswith("<") else ""
    with _text(source, progress) as text:
        return job.run(iter(text), format, batch)


def _batched(rows: Iterator[AddRow], size: int) -> Iterator[list[AddRow]]:
    """``rows`` in lists of ``size`` (the last one shorter), pulled one row at a time, so
    the reader's counts and notes advance with the batches as before."""
    pending: list[AddRow] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


@dataclass(slots=True)
class _Import:
    store: SuppressionStore
    fixed_scope: str | None
    reason: SuppressionReason | None
    now: datetime
    written: Callable[[int], None] | None = None
    name: str = ""
    careful: bool = False  # read each row through its format's mapping reader (the reference)

    def _choose(self, head: list[str], wanted: str) -> tuple[ImportFormat, bool]:
        headerless = _looks_like_address(head)
        if wanted == "auto":
            found = _BY_NAME["plain"] if headerless else detect_format(head)
            if found is None:
                shown = ",".join(head)[:120]
                raise BadFormatError(
                    f"unrecognised header {shown!r}: not one of the known export formats "
                    f"({', '.join(FORMAT_NAMES)}); name the address column email or address"
                )
            return found, headerless
        if wanted not in _BY_NAME:
            raise InvalidValueError(f"unknown format {wanted!r} (auto, {', '.join(FORMAT_NAMES)})")
        chosen = _BY_NAME[wanted]
        if headerless and chosen.name == "plain":
            return chosen, True
        if not chosen.detect(frozenset(header_key(h) for h in head)):
            raise BadFormatError(f"the header {','.join(head)[:120]!r} is not a {wanted} header")
        return chosen, False

    def _row(self, fmt: ImportFormat, parsed: Parsed, normalise: Callable[[str], str]) -> AddRow:
        if self.fixed_scope is not None:
            scope = self.fixed_scope
        else:
            scope = normalise_scope(parsed.scope) if parsed.scope else "global"
        detail = parsed.detail
        if self.name and fmt.name != "acctpipe":  # our own export already says where from
            detail = f"{detail} ({self.name})"
        address = normalise(parsed.address)
        reason = self.reason or parsed.reason
        return (
            address,
            scope,
            reason,
            detail.strip(),
            parsed.created or self.now,
            parsed.expires_at,
            False,
        )

    def run(self, lines: Iterator[str], wanted: str, batch: int) -> ImportReport:
        lead: list[str] = []  # blank and comment lines before the header or first address
        for line in lines:
            lead.append(line)
            if line.strip() and not line.lstrip().startswith("#"):
                break
        else:
            return ImportReport(format="plain" if wanted == "auto" else wanted)
        reader = csv.reader(itertools.chain(lead, lines), delimiter=_dialect(lead[-1]))
        head = next((r for r in reader if _is_content(r)), None)
        if head is None:
            return ImportReport(format="plain" if wanted == "auto" else wanted)
        fmt, headerless = self._choose(head, wanted)
        report = ImportReport(format=fmt.name)
        if headerless:
            rows = self._plain(itertools.chain([head], reader), reader, report)
        elif self.careful:
            rows = self._rows(fmt, [header_key(h) for h in head], reader, report)
        else:
            rows = self._fast(fmt, [header_key(h) for h in head], reader, report)
        batches = _batched(rows, batch)
        threaded = not is_sqlite(self.store.engine)
        run_pipeline(batches, lambda rows: self._flush(rows, report), threaded=threaded)
        return report

    def _rows(
        self,
        fmt: ImportFormat,
        keys: list[str],
        reader: _Reader,
        report: ImportReport,
    ) -> Iterator[AddRow]:
        """The rows of a file with a header, each read by its format."""
        normalise = self.store.normaliser()
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            if fmt.name == "plain" and fields[0].lstrip().startswith("#"):
                continue  # a comment in a hand-made list
            report.rows += 1
            row = {k: fields[i] if i < len(fields) else "" for i, k in enumerate(keys)}
            try:
                yield self._row(fmt, fmt.read(row), normalise)
            except ValueError as error:
                report.note(reader.line_num, error)

    def _fast(
        self,
        fmt: ImportFormat,
        keys: list[str],
        reader: _Reader,
        report: ImportReport,
    ) -> Iterator[AddRow]:
        """:meth:`_rows` without a mapping or a Parsed per row: the same rows and notes.

        The row is read by index (:mod:`acctpipe.sqlstore.suppressions._fastformats`);
        scopes and details are worked out once per distinct value.
        """
        read = compile_reader(fmt.name, keys)
        width, pad = len(keys), [""] * len(keys)
        normalise = self.store.normaliser()
        fixed, now, override, plain = self.fixed_scope, self.now, self.reason, fmt.name == "plain"
        suffix = f" ({self.name})" if self.name and fmt.name != "acctpipe" else ""
        details: Memo[str, str] = Memo(lambda detail: f"{detail}{suffix}".strip())
        scopes: Memo[str, str] = Memo(normalise_scope)
        for fields in reader:
            if not (fields and fields[0].strip()) and not any(f.strip() for f in fields):
                continue
            if plain and fields[0].lstrip().startswith("#"):
                continue  # a comment in a hand-made list
            report.rows += 1
            if len(fields) != width:
                fields = (fields + pad)[:width]
            try:
                address, reason, detail, created, expires, scope = read(fields)
                where = (scopes[scope] if scope else "global") if fixed is None else fixed
                row = (
                    normalise(address),
                    where,
                    override or reason,
                    details[detail],
                    created or now,
                    expires,
                    False,
                )
            except ValueError as error:
                report.note(reader.line_num, error)
                continue
            yield row

    def _plain(
        self, rows: Iterator[list[str]], reader: _Reader, report: ImportReport
    ) -> Iterator[AddRow]:
        """The rows of a list without a header: the first field of each row is the address.

        The same rows, reasons, details and notes as reading each row through the
        ``plain`` format, without a Parsed per row.
        """
        normalise = self.store.normaliser()
        scope = self.fixed_scope or "global"
        reason: SuppressionReason = self.reason or "manual"
        detail = "imported list" + (f" ({self.name})" if self.name else "")
        detail, now = detail.strip(), self.now
        for fields in rows:
            if len(fields) == 1:
                text = fields[0].strip()
                if not text or text[0] == "#":
                    continue
            elif not any(f.strip() for f in fields) or fields[0].lstrip().startswith("#"):
                continue
            report.rows += 1
            try:
                address = normalise(fields[0] if fields[0].strip() else "")
            except ValueError as error:
                report.note(reader.line_num, error)
                continue
            yield (address, scope, reason, detail, now, None, False)

    def _flush(self, pending: list[AddRow], report: ImportReport) -> None:
        added, updated = self.store.add_many(pending)
        report.added += added
        report.updated += updated
        report.unchanged += len(pending) - added - updated
        if self.written is not None:
            self.written(len(pending))


def _iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat()


def export_csv(
    store: SuppressionStore,
    out: IO[str],
    *,
    scope: str | None = None,
    reason: SuppressionReason | None = None,
    batch: int = 20_000,
) -> int:
    """Write the suppressions (in ``scope``, for ``reason``) to ``out`` as CSV; return the count.

    Rows stream from the store ``batch`` at a time, ordered by (address, scope)
    (:func:`export_chunks`).
    """
    count = 0
    for chunk, rows in export_chunks(store, scope=scope, reason=reason, batch=batch):
        out.write(chunk)
        count += rows
    return count


def export_chunks(
    store: SuppressionStore,
    *,
    scope: str | None = None,
    reason: SuppressionReason | None = None,
    batch: int = 20_000,
) -> Iterator[tuple[str, int]]:
    """The export as text chunks — the header, then one chunk per ``batch`` rows — each
    with how many rows it holds.

    Byte for byte what :func:`csv_line` of :func:`export_row` writes for every row of
    :meth:`SuppressionStore.iter_all` (a test proves it), at a fraction of the cost:
    the database formats the timestamps and flags rows whose text may begin like a
    formula; every other row is its cells joined by commas unless the page holds a
    character that needs quoting, and then only the rows holding one are written by
    ``csv_line``. A bad ``scope`` raises ValueError before anything is yielded.
    """
    wanted = None if scope is None else normalise_scope(scope)
    yield csv_line(EXPORT_COLUMNS), 0
    join = ",".join
    for rows in export_pages(store.engine, scope=wanted, reason=reason, batch=batch):
        lines = list(map(join, rows))
        chunk = "\n".join(lines)
        n = len(rows)
        if chunk.count(",") != 6 * n or chunk.count("\n") != n - 1 or _needs_care(chunk):
            yield _carefully(store, rows, lines)
        else:
            yield chunk + "\n", n


def _carefully(store: SuppressionStore, rows: list[Any], lines: list[str]) -> tuple[str, int]:
    """The page with each line that needs it written by the rule (:func:`_careful_line`)."""
    out: list[str] = []
    for row, line in zip(rows, lines, strict=True):
        if line.count(",") != 6 or _needs_care(line) or "\n" in line:
            out.append(_careful_line(store, row))
        else:
            out.append(line + "\n")
    return "".join(out), sum(1 for line in out if line)


def _needs_care(text: str) -> bool:
    """Quotes, carriage returns or the reader's mark (:data:`ODD`) in ``text``."""
    return '"' in text or "\r" in text or ODD in text


def _careful_line(store: SuppressionStore, row: tuple[str, ...]) -> str:
    """One row by the rule: ``csv_line`` of its cells (timestamps verbatim); a timestamp
    stored in an odd form is read back through the store, as :meth:`iter_all` reads it."""
    stamps = [*row[4:6], row[6].removesuffix(ODD)]
    if any(cell.startswith(ODD) for cell in stamps):
        found = [s for s in store.get(row[0]) if s.scope == row[1]]
        # Gone since the page was read: a later read would not show it either.
        return csv_line(export_row(found[0])) if found else ""
    return csv_line([*row[:4], *(Verbatim(cell) for cell in stamps)])


def export_row(s: Suppression) -> list[str]:
    """One suppression as a row of the export (the columns of :data:`EXPORT_COLUMNS`).

    Write it with :func:`acctpipe._csvsafe.csv_line`: a cell a spreadsheet would
    run as a formula (an address may begin with ``=``) is neutralised there.
    """
    return [
        s.address,
        s.scope,
        s.reason,
        s.detail,
        Verbatim(_iso(s.created_at)),
        Verbatim(_iso(s.updated_at)),
        Verbatim(_iso(s.expires_at)),
    ]

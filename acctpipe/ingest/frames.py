"""Decoded records → typed, classified polars frames in the ``events`` / ``rejects`` shape.

Pure functions (no I/O): a batch of :class:`~mta.acct.Row` sharing one header
becomes one frame; timestamps are parsed timezone-aware (PowerMTA's form
vectorised, every other form by :func:`mta.acct.parse_time`, which is the
spec); ``b``, ``t``, ``tq`` and ``rb`` rows are classified with
:func:`classifiers.vector.classify_frame`. A row whose timestamp cannot be
read is returned as a :class:`Rejected` for the quarantine instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from acctpipe.eventstore.schema import EVENT_COLUMNS
from acctpipe.ingest.bulk import RowBlock
from acctpipe.ingest.verdicts import Verdicts
from classifiers import RuleTable
from classifiers.vector import OUTPUT_COLUMNS
from mta.acct import RejectRow, Row, parse_time

__all__ = ["CLASSIFIED_TYPES", "Rejected", "events_frame", "rejects_frame"]

CLASSIFIED_TYPES: Final = ("b", "t", "tq", "rb")
"""Record types whose diagnostic is classified."""

_VERDICT_COLUMNS: Final = ("bounce_category", "bounce_class", "bounce_rule", "fault")
"""Where :data:`classifiers.vector.OUTPUT_COLUMNS` go in ``events``, in that order."""

_TYPES: Final[dict[str, pl.DataType]] = {
    "VARCHAR": pl.String(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
    "BIGINT": pl.Int64(),
}
_SOURCES: Final = {src: (name, kind.split()[0]) for name, kind, src in EVENT_COLUMNS if src}
_PMTA_TIME: Final = "%Y-%m-%d %H:%M:%S%z"
_REJECT_TEXT: Final = (
    "remote_ip",
    "helo",
    "mail_from",
    "rcpt",
    "command",
    "reply",
    "reason",
    "auth_user",
    "listener",
    "source_file",
)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A decoded row the store refuses (bad timestamp): where it is and why."""

    offset: int
    length: int
    reason: str


def _timestamps(frame: pl.DataFrame, field: str) -> tuple[pl.Series, dict[int, str]]:
    """Parse column ``field``; return the series and {row index: reason} for failures."""
    text = frame.get_column(field)
    parsed = text.str.to_datetime(_PMTA_TIME, strict=False, time_zone="UTC", time_unit="us")
    misses = (parsed.is_null() & (text.str.strip_chars() != "")).arg_true().to_list()
    if not misses:
        return parsed, {}
    values, failures = parsed.to_list(), {}
    for i in misses:
        try:
            values[i] = parse_time(text[i])
        except ValueError as exc:
            failures[i] = f"{field}: {exc}"
    return pl.Series(field, values, dtype=pl.Datetime("us", "UTC")), failures


def _segment(rows: Sequence[Row | RowBlock]) -> list[RowBlock]:
    """Group rows into blocks that share one column list (blocks pass through)."""
    blocks: list[RowBlock] = []
    run: list[Row] = []
    for row in rows:
        if isinstance(row, RowBlock):
            blocks.extend((_block(run), row) if run else (row,))
            run = []
            continue
        if run and row.fields.keys() != run[0].fields.keys():
            blocks.append(_block(run))
            run = []
        run.append(row)
    if run:
        blocks.append(_block(run))
    return _merged(blocks)


def _merged(blocks: list[RowBlock]) -> list[RowBlock]:
    """Join neighbouring blocks under the same header: one typing pass instead of many."""
    out: list[RowBlock] = []
    group: list[RowBlock] = []
    for block in [*blocks, None]:
        if group and (block is None or block.fields != group[0].fields):
            out.append(
                group[0]
                if len(group) == 1
                else RowBlock(
                    group[0].fields,
                    pl.concat([b.frame for b in group]),
                    pl.concat([b.offsets for b in group]),
                    pl.concat([b.lengths for b in group]),
                )
            )
            group = []
        if block is not None:
            group.append(block)
    return out


def _block(run: list[Row]) -> RowBlock:
    header = tuple(run[0].fields)
    raw = pl.DataFrame([list(r.fields.values()) for r in run], schema=header, orient="row")
    offsets = pl.Series("offset", [r.offset for r in run], dtype=pl.Int64)
    return RowBlock(header, raw, offsets, pl.Series("length", [r.length for r in run], pl.Int64))


def _typed(block: RowBlock, source_file: str, file_id: int) -> tuple[pl.DataFrame, list[Rejected]]:
    header, raw = block.fields, block.frame
    failures: dict[int, str] = {}
    columns: list[pl.Series | pl.Expr] = []
    for field in header:
        if field not in _SOURCES:
            continue
        name, kind = _SOURCES[field]
        if kind == "TIMESTAMPTZ":
            series, bad = _timestamps(raw, field)
            failures.update(bad)
            columns.append(series.alias(name))
        elif kind == "BIGINT":
            columns.append(pl.col(field).str.strip_chars().cast(pl.Int64, strict=False).alias(name))
        else:
            columns.append(pl.when(pl.col(field) != "").then(pl.col(field)).alias(name))
    unknown = [f for f in header if f not in _SOURCES]
    extra = pl.struct(unknown).struct.json_encode() if unknown else pl.lit(None, pl.String)
    frame = raw.select(
        *columns,
        extra.alias("extra"),
        block.offsets.alias("source_offset"),
    )
    present = set(frame.columns)
    frame = frame.with_columns(
        pl.lit(None, _TYPES[k.split()[0]]).alias(n)
        for n, k, _ in EVENT_COLUMNS
        if n not in present and n not in ("file_id", "source_file")
    ).with_columns(
        pl.col("rcpt").str.extract(r"@([^@>\s]+)>?\s*$").str.to_lowercase().alias("rcpt_domain"),
        pl.lit(file_id, pl.Int64).alias("file_id"),
        pl.lit(source_file, pl.String).alias("source_file"),
    )
    offsets, lengths = block.offsets, block.lengths
    rejected = [Rejected(offsets[i], lengths[i], why) for i, why in sorted(failures.items())]
    if failures:
        frame = frame.filter(~pl.int_range(pl.len()).is_in(list(failures)))
    return frame.select([n for n, _, _ in EVENT_COLUMNS]), rejected


def _classify(frame: pl.DataFrame, table: RuleTable | None, verdicts: Verdicts) -> pl.DataFrame:
    """Fill the verdict columns of the classified types; other rows keep nulls."""
    if not frame.height:
        return frame
    wanted = frame.get_column("type").is_in(CLASSIFIED_TYPES)
    if not wanted.any():
        return frame
    found = verdicts.of(
        frame.get_column("dsn_diag").filter(wanted),
        frame.get_column("dsn_status").filter(wanted),
        table,
    )
    # A classified row takes the verdict numbered by how many classified rows precede
    # it; any other row, the row of nulls appended after the last verdict.
    position = pl.select(
        pl.when(wanted)
        .then(wanted.cast(pl.UInt32).cum_sum() - 1)
        .otherwise(pl.lit(found.height, pl.UInt32))
    ).to_series()
    padded = pl.concat([found, found.clear(1)])
    spread = padded.select(pl.all().gather(position))
    return frame.with_columns(
        spread.get_column(src).alias(dst)
        for src, dst in zip(OUTPUT_COLUMNS, _VERDICT_COLUMNS, strict=True)
    )


def events_frame(
    rows: Sequence[Row | RowBlock],
    source_file: str,
    file_id: int,
    *,
    table: RuleTable | None = None,
    verdicts: Verdicts | None = None,
) -> tuple[pl.DataFrame, list[Rejected]]:
    """The ``events`` rows for ``rows`` (rows or blocks, any headers) and the rows refused.

    ``verdicts`` keeps the diagnostics' verdicts from one call to the next (a loader
    passes its own); without it each call classifies its distinct diagnostics afresh.
    """
    frames: list[pl.DataFrame] = []
    rejected: list[Rejected] = []
    for block in _segment(rows):
        frame, bad = _typed(block, source_file, file_id)
        frames.append(frame)
        rejected.extend(bad)
    if not frames:
        return pl.DataFrame(schema={n: _TYPES[k.split()[0]] for n, k, _ in EVENT_COLUMNS}), []
    frame = pl.concat(frames, how="vertical")
    return _classify(frame, table, Verdicts() if verdicts is None else verdicts), rejected


def rejects_frame(rows: Sequence[RejectRow], source_file: str, file_id: int) -> pl.DataFrame:
    """The ``rejects`` rows for decoded reject-log rows, in table column order."""
    records = [r.record for r in rows]
    return pl.DataFrame(
        {
            "time_logged": [r.time_logged for r in records],
            "remote_ip": [r.remote_ip or None for r in records],
            "remote_port": [r.remote_port for r in records],
            "helo": [r.helo or None for r in records],
            "mail_from": [r.mail_from or None for r in records],
            "rcpt": [r.rcpt or None for r in records],
            "command": [r.command or None for r in records],
            "reply": [r.reply or None for r in records],
            "reason": [r.reason or None for r in records],
            "auth_user": [r.auth_user or None for r in records],
            "listener": [r.listener or None for r in records],
            "file_id": [file_id] * len(records),
            "source_file": [source_file] * len(records),
            "source_offset": [r.offset for r in rows],
        },
        schema_overrides={
            **dict.fromkeys(_REJECT_TEXT, pl.String),
            "time_logged": pl.Datetime("us", "UTC"),
            "remote_port": pl.Int32,
            "file_id": pl.Int64,
            "source_offset": pl.Int64,
        },
    )

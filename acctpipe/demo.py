"""``acctpipe demo``: a guided run over what acctpipe does today, with no network.

It writes the embedded PowerMTA-syntax configuration to the data directory and
checks it; generates a realistic accounting file with the codec's writer; reads
it back with the streaming reader (the contract the tailer uses), showing a
half-written last line held back until it completes; then ingests it into a
DuckDB file exactly once, classifying every failure. Later releases extend this
into the full loop (MTA → accounting → DuckDB → suppressions and throttles).
"""

from __future__ import annotations

import time
from collections import Counter
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TransferSpeedColumn
from rich.table import Table

from acctpipe._cli_config import print_summary
from acctpipe.ingest import Loader
from acctpipe.store import Store
from acctpipe.synth import write_synthetic_accounting
from mta.acct import (
    RECORD_TYPE_DESCRIPTIONS,
    AccountingDecoder,
    MalformedRow,
    RecordType,
    Row,
)
from mta.config import effective_settings, load_config

__all__ = ["run_demo"]

_CHUNK = 1 << 20


def run_demo(data_dir: Path, rows: int, out: Console) -> None:
    """Run the demo in ``data_dir`` with ``rows`` synthetic accounting records."""
    data_dir.mkdir(parents=True, exist_ok=True)
    out.rule("[bold]1. Configuration (PowerMTA syntax)")
    conf = data_dir / "acctpipe.conf"
    conf.write_text(
        resources.files("acctpipe").joinpath("examples/demo.conf").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    config = load_config(conf)
    print_summary(config, out)
    for domain in ("gmail.com", "outlook.com", "yahoo.com"):
        eff = effective_settings(config, domain)
        out.print(
            f"  {domain:<12} queue [cyan]{eff.queue}[/cyan], max-msg-rate "
            f"[bold]{eff.settings.max_msg_rate}[/bold] (from {eff.origins['max-msg-rate']}), "
            f"max-smtp-out {eff.settings.max_smtp_out}",
            highlight=False,
        )

    out.rule("[bold]2. Accounting file (PowerMTA CSV)")
    acct = data_dir / "acct-demo.csv"
    started = time.perf_counter()
    size = write_synthetic_accounting(acct, rows)
    out.print(
        f"wrote {rows:,} records ({size / 1e6:.1f} MB) to {acct} "
        f"in {time.perf_counter() - started:.2f}s"
    )
    counts, malformed, offset, seconds = _read_back(acct, size, out)
    _print_counts(counts, malformed, rows, seconds, out)
    if offset == size:
        out.print(
            f"[green]✓[/green] every byte accounted for: last committed offset {offset:,} "
            "= file size"
        )

    out.rule("[bold]3. Half-written and malformed lines")
    _partial_line_demo(acct, out)

    out.rule("[bold]4. Exactly-once ingest into DuckDB, with classification")
    db = data_dir / "acctpipe.duckdb"
    _ingest_demo(acct, db, out)
    out.rule()
    hints = (
        f"acctpipe check-config {conf} --domain outlook.com",
        f"acctpipe sql --db {db} 'SELECT * FROM top_bounce_diagnostics LIMIT 5'",  # noqa: S608
        "acctpipe rules explain 'smtp;421 4.7.0 [TSS04] Messages from 192.0.2.1 deferred'",
    )
    for n, hint in enumerate(hints):
        out.print(("Try: " if n == 0 else "     ") + hint, markup=False, soft_wrap=True)


def _read_back(path: Path, size: int, out: Console) -> tuple[Counter[RecordType], int, int, float]:
    decoder = AccountingDecoder()
    counts: Counter[RecordType] = Counter()
    malformed = 0
    started = time.perf_counter()
    columns = (TextColumn("reading"), BarColumn(), TaskProgressColumn(), TransferSpeedColumn())
    with Progress(*columns, console=out, transient=True) as progress, path.open("rb") as f:
        task = progress.add_task("read", total=size)
        while chunk := f.read(_CHUNK):
            for event in decoder.feed(chunk):
                if isinstance(event, Row):
                    counts[event.type] += 1
                elif isinstance(event, MalformedRow):
                    malformed += 1
            progress.update(task, completed=decoder.offset)
        malformed += sum(isinstance(e, MalformedRow) for e in decoder.close())
    return counts, malformed, decoder.offset, time.perf_counter() - started


def _print_counts(
    counts: Counter[RecordType], malformed: int, rows: int, seconds: float, out: Console
) -> None:
    table = Table(title=f"read back in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)")
    table.add_column("type")
    table.add_column("meaning")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    for kind, n in counts.most_common():
        table.add_row(kind, RECORD_TYPE_DESCRIPTIONS.get(kind, ""), f"{n:,}", f"{n / rows:.1%}")
    table.add_row("", "quarantined (malformed)", f"{malformed:,}", "", style="dim")
    out.print(table)


def _partial_line_demo(path: Path, out: Console) -> None:
    """Show the tailer's contract: an incomplete last record is held back, never guessed."""
    with path.open("rb") as f:
        header = f.readline()
        line = f.readline()
    half = len(line) // 2
    decoder = AccountingDecoder()
    decoder.feed(header)
    first = decoder.feed(line[:half])
    out.print(
        f"fed header + {half} of {len(line)} bytes of a record: {len(first)} row(s) out, "
        f"{len(decoder.pending)} byte(s) held back, committed offset {decoder.offset}"
    )
    rest = decoder.feed(line[half:])
    rows = [e for e in rest if isinstance(e, Row)]
    out.print(
        f"fed the remaining {len(line) - half} bytes: {len(rows)} row(s) out "
        f"(rcpt {rows[0].fields.get('rcpt') if rows else '?'}), committed offset "
        f"{decoder.offset}"
    )
    bad = b"d,2026-11-25 07:00:00+0000,too,few,columns\r\n"
    at = decoder.offset
    for event in decoder.feed(bad + line):
        if isinstance(event, MalformedRow):
            out.print(
                f"a malformed row at offset {event.offset} goes to quarantine: "
                f"{event.reason}; the next row still parses"
            )
    out.print(f"  (offsets are exact: the bad row started where the last one ended, {at})")


def _ingest_demo(acct: Path, db: Path, out: Console) -> None:
    """Ingest the file twice (the second run adds nothing) and show what the store says."""
    for attempt in (1, 2):
        store = Store.open(db)
        try:
            loader = Loader(store)
            loader.load(acct)
        finally:
            store.close()
        classes = ", ".join(f"{k}={v:,}" for k, v in sorted(loader.stats.classes.items()))
        out.print(
            f"run {attempt}: {loader.stats.rows:,} rows committed"
            + (f" — by class: {classes}" if classes else " (nothing new: never doubles)")
        )
    store = Store.open(db, read_only=True)
    try:
        columns, rows = store.query(
            "SELECT bounce_class, bounce_category, bounce_rule, count(*) AS n FROM events "
            "WHERE type IN ('b', 't') GROUP BY ALL ORDER BY n DESC LIMIT 8"
        )
    finally:
        store.close()
    table = Table(title=f"failures by class and rule ({db.name})")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    out.print(table)

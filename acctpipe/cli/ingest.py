"""The ``ingest``, ``tail`` and ``sql`` commands (wired up in :mod:`acctpipe.cli.app`)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from acctpipe.cli.render import OutputFormat, write_rows
from acctpipe.eventstore import Store, export_parquet
from acctpipe.ingest import IngestStats, Loader, Tailer, discover
from acctpipe.ingest.rulefiles import RuleFiles
from classifiers import RuleTable

if TYPE_CHECKING:
    from acctpipe.feedback.loop import PolicyLoop

__all__ = ["run_ingest", "run_sql", "run_tail"]

_PROGRESS_ABOVE = 32 << 20  # show a progress bar when this many bytes are pending


def _summary(stats: IngestStats, seconds: float, out: Console) -> None:
    rate = stats.rows / seconds if seconds > 0 else 0.0
    out.print(
        f"{stats.rows} rows from {stats.files} file(s), {stats.quarantined} quarantined,"
        f" {stats.bytes / 1e6:.1f} MB in {seconds:.1f}s ({rate:,.0f} rows/s)"
    )
    if stats.types:
        out.print("by type:  " + ", ".join(f"{k}={v}" for k, v in sorted(stats.types.items())))
    if stats.classes:
        out.print("by class: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.classes.items())))


def run_ingest(
    db: Path,
    paths: Sequence[Path],
    globs: Sequence[str],
    batch_rows: int,
    table: RuleTable | None,
    out: Console,
) -> int:
    """Ingest what is in ``paths`` now; print a summary. Safe to repeat: never doubles."""
    store = Store.open(db)
    try:
        files = discover(paths, globs)
        start = time.perf_counter()
        probe = Loader(store)
        pending = sum(probe.pending_bytes(p) for p in files)
        with Progress(
            TextColumn("ingest"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=out,
            transient=True,
            disable=pending < _PROGRESS_ABOVE or not out.is_terminal,
        ) as progress:
            task = progress.add_task("ingest", total=pending)
            loader = Loader(
                store,
                batch_rows=batch_rows,
                table=table,
                progress=lambda n: progress.advance(task, n),
            )
            for path in files:
                loader.load(path)
        _summary(loader.stats, time.perf_counter() - start, out)
    finally:
        store.close()
    return 0


@dataclass(frozen=True, slots=True)
class Feedback:
    """What ``tail`` needs to run the feedback loop (all optional but the database)."""

    database_url: str
    config: Path | None = None
    policy: tuple[Path, ...] = ()
    backfill: bool = False


def _policy_loop(store: Store, feedback: Feedback) -> PolicyLoop:
    from acctpipe.feedback.loop import PolicyLoop
    from acctpipe.sqlstore.migrate import open_database
    from acctpipe.webhooks.wiring import stores_with_webhooks

    _, suppressions, throttles = stores_with_webhooks(open_database(feedback.database_url))
    return PolicyLoop.from_files(
        store.conn,
        suppressions,
        throttles,
        config=feedback.config,
        policy=feedback.policy,
        backfill=feedback.backfill,
    )


def run_tail(
    db: Path,
    dirs: Sequence[Path],
    globs: Sequence[str],
    rescan: float,
    batch_rows: int,
    export_dir: Path | None,
    export_every: float,
    out: Console,
    feedback: Feedback | None = None,
    rules: Sequence[Path] = (),
) -> int:
    """Follow ``dirs`` until SIGINT or SIGTERM, then finish the batch and exit 0.

    With ``feedback``, every pass also runs the policy loop: new events become
    suppressions and throttle decisions in the SQL store the MTA follows. With
    ``rules``, those files are re-read between passes when they change.
    """
    rule_files = RuleFiles(rules) if rules else None
    store = Store.open(db)
    stop = threading.Event()
    table = rule_files.table if rule_files is not None else None
    loader = Loader(store, batch_rows=batch_rows, stop=stop, table=table)
    exported = [time.monotonic()]
    loop = _policy_loop(store, feedback) if feedback is not None else None

    def before_pass() -> None:
        # Before, not after: rows appended with an edit are classified by the edit.
        if rule_files is not None and rule_files.refresh():
            loader.table = rule_files.table

    def after_pass() -> None:
        if loop is not None:
            loop.run_once()
        if export_dir is not None and time.monotonic() - exported[0] >= export_every:
            export_parquet(store, export_dir)
            exported[0] = time.monotonic()

    tailer = Tailer(
        loader, dirs, globs=globs, rescan=rescan, on_pass=after_pass, before_pass=before_pass
    )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        tailer.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    start = time.perf_counter()
    extra = " with the feedback loop" if loop is not None else ""
    out.print(f"following {', '.join(map(str, dirs))} into {db}{extra} (Ctrl-C to stop)")
    try:
        tailer.run()
        if export_dir is not None:
            export_parquet(store, export_dir)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        store.close()
    _summary(loader.stats, time.perf_counter() - start, out)
    if loop is not None:
        stats = loop.stats
        out.print(
            f"feedback: {stats.events} events read, {stats.suppressions} suppression changes, "
            f"{stats.throttle_decisions} throttle decisions"
        )
    return 0


def run_sql(
    db: Path,
    sql: str,
    limit: int | None,
    err: Console,
    *,
    format: OutputFormat = "table",
    output: Path | None = None,
) -> int:
    """Run one query on a read-only connection and write the result (acctpipe.cli.render)."""
    store = Store.open(db, read_only=True)
    try:
        columns, rows = store.query(sql)
    finally:
        store.close()
    shown = write_rows(columns, rows, format=format, output=output, limit=limit)
    if shown < len(rows):
        err.print(f"({len(rows)} rows, first {shown} shown; --limit to change)")
    return 0

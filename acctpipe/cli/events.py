"""The event-store commands: ingest, tail and sql.

Declarations only; the work is in :mod:`acctpipe.cli.ingest`, imported when a
command runs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from acctpipe.cli.options import FeedbackDbOption, RulesOption, err, out, table_of

__all__ = ["commands"]

# Registered on the app by acctpipe.cli.app, in this order (the order of --help).
commands = typer.Typer()

DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB file (created if missing).")]
GlobOption = Annotated[
    list[str] | None,
    typer.Option(
        "--glob", "-g", help="File-name pattern to read in each directory (repeatable; *.csv)."
    ),
]


@commands.command(
    epilog=(
        "Examples:\n\n"
        "  acctpipe ingest --db acct.duckdb /var/log/pmta/\n\n"
        "  acctpipe ingest --db acct.duckdb acct-2026-11-25.csv rejects.csv\n\n"
        "  acctpipe ingest --db acct.duckdb -g 'acct-*.csv' /var/log/pmta/"
    )
)
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Accounting / reject-log files or dirs.")],
    db: DbOption,
    glob: GlobOption = None,
    batch_rows: Annotated[
        int,
        typer.Option(
            "--batch-rows",
            min=1,
            help="Rows per transaction (DuckDB writes batches of 128k+ rows straight to the "
            "table; memory grows with the batch).",
        ),
    ] = 131_072,
    rules: RulesOption = None,
) -> None:
    """Ingest what the files hold now, exactly once (safe to run again: never doubles)."""
    from acctpipe.cli.ingest import run_ingest
    from acctpipe.ingest import DEFAULT_GLOBS

    raise typer.Exit(run_ingest(db, paths, glob or DEFAULT_GLOBS, batch_rows, table_of(rules), out))


@commands.command(
    epilog=(
        "Examples:\n\n"
        "  acctpipe tail --db acct.duckdb /var/log/pmta/\n\n"
        "  acctpipe tail --db acct.duckdb --export-dir events-parquet /var/log/pmta/"
    )
)
def tail(
    dirs: Annotated[list[Path], typer.Argument(help="Directories (or files) to follow.")],
    db: DbOption,
    glob: GlobOption = None,
    rescan: Annotated[
        float, typer.Option("--rescan", min=0.05, help="Seconds between safety-net rescans.")
    ] = 2.0,
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="Rows per transaction.")
    ] = 20_000,
    export_dir: Annotated[
        Path | None,
        typer.Option("--export-dir", help="Also keep a Parquet export (by day) here for readers."),
    ] = None,
    export_every: Annotated[
        float, typer.Option("--export-every", min=1, help="Seconds between Parquet exports.")
    ] = 60.0,
    database_url: FeedbackDbOption = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="The MTA's config: throttle bounds and adaptive-throttling."
        ),
    ] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", help="A policy TOML file over the defaults (repeatable)."),
    ] = None,
    backfill: Annotated[
        bool,
        typer.Option(
            "--feedback-backfill",
            help="On the loop's first run, act on the events already stored too.",
        ),
    ] = False,
    rules: Annotated[
        list[Path] | None,
        typer.Option(
            "--rules",
            help="A TOML rule file checked before the built-in table (repeatable); re-read "
            "when it changes, a broken edit keeps the running table.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Follow directories into the store until SIGINT/SIGTERM (rotation and truncation safe).

    With --database-url, each pass also runs the feedback loop: hard bounces and
    complaints become suppressions, deferral bursts and blocks become throttle
    decisions, in the SQL store a running `acctpipe mta --database-url` follows.
    """
    from acctpipe.cli.ingest import Feedback, run_tail
    from acctpipe.ingest import DEFAULT_GLOBS

    feedback = (
        Feedback(database_url, config, tuple(policy or ()), backfill)
        if database_url is not None
        else None
    )
    code = run_tail(
        db,
        dirs,
        glob or DEFAULT_GLOBS,
        rescan,
        batch_rows,
        export_dir,
        export_every,
        out,
        feedback=feedback,
        rules=tuple(rules or ()),
    )
    raise typer.Exit(code)


class SqlFormat(StrEnum):
    """Output formats of ``acctpipe sql``."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


@commands.command(
    epilog=(
        "A table on a terminal shows the first 100 rows fitted to its width; piped or "
        "written to a file it has every row at full width. csv is RFC 4180 (as /v1/sql "
        "writes it), json an array of objects, parquet needs -o FILE or a pipe.\n\n"
        "Examples:\n\n"
        "  acctpipe sql --db acct.duckdb 'SELECT * FROM daily_domain_stats ORDER BY day'\n\n"
        "  acctpipe sql --db acct.duckdb -f csv 'SELECT * FROM events' > events.csv\n\n"
        "  acctpipe sql --db acct.duckdb -f parquet -o q.parquet 'SELECT * FROM quarantine'"
    )
)
def sql(
    query: Annotated[str, typer.Argument(help="The SQL to run (read-only connection).")],
    db: Annotated[Path, typer.Option("--db", help="The DuckDB file.")],
    format_: Annotated[
        SqlFormat, typer.Option("--format", "-f", help="table, csv, json or parquet.")
    ] = SqlFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file ('-': stdout).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, help="Rows to write at most (default: all; 100 on a terminal)."
        ),
    ] = None,
) -> None:
    """Run a read-only SQL query against the store and print the result."""
    from acctpipe.cli.ingest import run_sql

    code = run_sql(db, query, limit, err, format=format_.value, output=output)
    raise typer.Exit(code)

"""``acctpipe suppress …``: the suppression list from the shell (registered in acctpipe.cli.app).

Every command takes ``--database-url`` (or ``ACCTPIPE_DATABASE_URL``) and
migrates the database on first use. The heavy imports (SQLAlchemy, Alembic)
happen inside the commands, so ``acctpipe --help`` stays fast.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from acctpipe.cli.options import DEFAULT_URL, DatabaseOption, err, open_store_engine, out, when

if TYPE_CHECKING:
    from acctpipe.policy.types import SuppressionReason
    from acctpipe.sqlstore.suppressions import Change, ImportReport, Suppression

__all__ = ["suppress_app"]


class Reason(StrEnum):
    """The reasons a suppression can have (acctpipe.policy.types.SuppressionReason)."""

    hard_bounce = "hard-bounce"
    soft_bounce_repeated = "soft-bounce-repeated"
    complaint = "complaint"
    manual = "manual"
    unsubscribe = "unsubscribe"


_REASONS: Final = ", ".join(r.value for r in Reason)


class Format(StrEnum):
    """The import formats (acctpipe.sqlstore.suppressions.FORMAT_NAMES), or auto-detection."""

    auto = "auto"
    acctpipe = "acctpipe"
    ses = "ses"
    sendgrid = "sendgrid"
    mailgun = "mailgun"
    postmark = "postmark"
    plain = "plain"


_FORMATS: Final = ", ".join(f.value for f in Format)

ScopeOption = Annotated[
    str,
    typer.Option(
        "--scope", "-s", help="global, domain:<sender domain> or list:<name>.", show_default=True
    ),
]

suppress_app = typer.Typer(
    help="Suppressed addresses: add, remove, check, verify, import from an ESP, export.",
    no_args_is_help=True,
)


def _describe(s: Suppression | Change) -> str:
    until = "for good" if s.expires_at is None else f"until {when(s.expires_at)}"
    return f"{s.address} ({s.scope}, {s.reason}, {until})"


def _scope(scope: str) -> str:
    from acctpipe.sqlstore.suppressions import normalise_scope

    return normalise_scope(scope)


def _expiry(text: str | None) -> datetime | None:
    from mta.config.values import parse_duration

    if text is None:
        return None
    seconds = parse_duration(text, allow_never=True)
    return None if seconds is None else datetime.now(UTC) + timedelta(seconds=seconds)


@suppress_app.command(
    "add",
    epilog=(
        "Examples:\n\n"
        "  acctpipe suppress add john@example.com\n\n"
        "  acctpipe suppress add jane@example.com --reason complaint --detail 'ticket 4711'\n\n"
        "  acctpipe suppress add bob@example.net --scope domain:news.example.org --expires 30d"
    ),
)
def add(
    address: Annotated[str, typer.Argument(help="The address to suppress.")],
    scope: ScopeOption = "global",
    reason: Annotated[
        Reason,
        typer.Option("--reason", "-r", metavar="REASON", help=f"Why: {_REASONS}."),
    ] = Reason.manual,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", "-e", help="Lift it after this long (30d, 12h, 1w); default never."
        ),
    ] = None,
    detail: Annotated[str, typer.Option("--detail", help="A note a person can read.")] = "",
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Suppress ADDRESS (again: extends the expiry or strengthens the reason, else no-op)."""
    from acctpipe.webhooks.wiring import stores_with_webhooks

    expires_at = _expiry(expires)
    engine = open_store_engine(database_url)
    try:
        store = stores_with_webhooks(engine)[1]
        change = store.add(
            address, scope=scope, reason=reason.value, expires_at=expires_at, detail=detail
        )
        if change is None:
            current = store.get(address)
            shown = next((s for s in current if s.scope == _scope(scope)), None)
            described = _describe(shown) if shown else store.normalise(address)
            out.print(f"unchanged: already suppressed: {described}", markup=False, soft_wrap=True)
        else:
            verb = "added" if change.op == "add" else "updated"
            out.print(
                f"{verb}: {_describe(change)} [cursor {change.cursor}]",
                markup=False,
                soft_wrap=True,
            )
    finally:
        engine.dispose()


@suppress_app.command(
    "remove",
    epilog=(
        "Examples:\n\n"
        "  acctpipe suppress remove john@example.com\n\n"
        "  acctpipe suppress remove bob@example.net --scope domain:news.example.org"
    ),
)
def remove(
    address: Annotated[str, typer.Argument(help="The address to release.")],
    scope: ScopeOption = "global",
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Lift the suppression of ADDRESS in one scope (whatever its reason)."""
    from acctpipe.webhooks.wiring import stores_with_webhooks

    engine = open_store_engine(database_url)
    try:
        store = stores_with_webhooks(engine)[1]
        change = store.remove(address, scope=scope)
        if change is None:
            out.print(
                f"not suppressed in {_scope(scope)}: {store.key(address)} (nothing to remove)",
                markup=False,
                soft_wrap=True,
            )
        else:
            out.print(
                f"removed: {change.address} ({change.scope}; was {change.reason}) "
                f"[cursor {change.cursor}]",
                markup=False,
                soft_wrap=True,
            )
    finally:
        engine.dispose()


@suppress_app.command(
    "check",
    epilog=(
        "Exit status: 0 if ADDRESS is suppressed, 1 if it is not, 2 on error "
        "(an invalid address, an unreachable database) — like grep.\n\n"
        "Examples:\n\n"
        "  acctpipe suppress check john@example.com\n\n"
        "  acctpipe suppress check john@example.com --sender-domain news.example.org\n\n"
        '  if acctpipe suppress check "$rcpt" >/dev/null; then echo skip; fi'
    ),
)
def check(
    address: Annotated[str, typer.Argument(help="The address to look up.")],
    sender_domain: Annotated[
        str | None,
        typer.Option("--sender-domain", "-d", help="Also count domain:<this> suppressions."),
    ] = None,
    lists: Annotated[
        list[str] | None,
        typer.Option("--list", "-l", help="Also count list:<this> suppressions (repeatable)."),
    ] = None,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Is mail to ADDRESS suppressed? Prints the reason, since when and until when."""
    from acctpipe.errors import AcctpipeError, one_line
    from acctpipe.webhooks.wiring import stores_with_webhooks

    try:
        engine = open_store_engine(database_url)
        try:
            store = stores_with_webhooks(engine)[1]
            found = store.check(address, sender_domain=sender_domain, lists=lists or ())
            normal = store.key(address)
        finally:
            engine.dispose()
    except (ValueError, AcctpipeError, OSError) as exc:
        err.print(f"acctpipe: error: {one_line(exc)}", markup=False)
        raise typer.Exit(2) from None
    if found is None:
        out.print(f"not suppressed: {normal}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"suppressed: {_describe(found)}", markup=False, soft_wrap=True)
    out.print(
        f"  since {when(found.created_at)}, updated {when(found.updated_at)}",
        markup=False,
        soft_wrap=True,
    )
    if found.detail:
        out.print(f"  detail: {found.detail}", markup=False, soft_wrap=True)
    if found.event_ids:
        # Say when the list is cut: a reader must not take 10 ids for all the evidence.
        ids, shown = found.event_ids, found.event_ids[:10]
        caption = "events" if len(shown) == len(ids) else f"events (10 of {len(ids)} shown)"
        out.print(f"  {caption}: {', '.join(shown)}", markup=False, soft_wrap=True)


@suppress_app.command(
    "verify",
    epilog=(
        "Rows are read in batches and only reported: none is changed, re-keyed or removed "
        "(remove one with `acctpipe suppress remove ADDRESS`). Exit status: 0 if every "
        "stored address passes, 1 if some do not, 2 on error.\n\n"
        "Examples:\n\n"
        "  acctpipe suppress verify\n\n"
        "  acctpipe suppress verify --database-url postgresql://acctpipe@db/acctpipe"
    ),
)
def verify(
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows read at a time.")] = 10_000,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """List stored suppressions whose address the address check (RFC 5321/6531) refuses."""
    from acctpipe.errors import AcctpipeError, one_line
    from acctpipe.sqlstore.suppressions.verify import failing_rows
    from acctpipe.webhooks.wiring import stores_with_webhooks

    bad = 0
    try:
        engine = open_store_engine(database_url)
        try:
            store = stores_with_webhooks(engine)[1]
            for row, problem in failing_rows(store, batch=batch):
                bad += 1
                out.print(
                    f"bad: {row.address} ({row.scope}, {row.reason}): {problem}",
                    markup=False,
                    soft_wrap=True,
                )
            total = store.count()
        finally:
            engine.dispose()
    except (ValueError, AcctpipeError, OSError) as exc:
        err.print(f"acctpipe: error: {one_line(exc)}", markup=False)
        raise typer.Exit(2) from None
    out.print(
        f"{bad} of {total} stored suppressions fail the address check"
        + (" (left as they are)" if bad else ""),
        markup=False,
        soft_wrap=True,
    )
    if bad:
        raise typer.Exit(1)


@suppress_app.command(
    "import",
    epilog=(
        "Formats (detected from the header): acctpipe (our export), ses (Amazon SES "
        "suppression list), sendgrid (bounces, blocks, invalid emails, spam reports, "
        "unsubscribes), mailgun (bounces, unsubscribes, complaints), postmark (suppressions, "
        "bounces), plain (one address per line, or an email/address column). Spam-class "
        "bounces are skipped. Safe to repeat: a second import changes nothing.\n\n"
        "Examples:\n\n"
        "  acctpipe suppress import sendgrid-bounces.csv\n\n"
        "  acctpipe suppress import unsubscribed.txt --reason unsubscribe --scope list:news\n\n"
        "  acctpipe suppress import export.csv --format mailgun"
    ),
)
def import_(
    file: Annotated[
        Path, typer.Argument(help="A CSV export.", exists=True, dir_okay=False, readable=True)
    ],
    format_: Annotated[
        Format,
        typer.Option("--format", "-f", metavar="FORMAT", help=f"The file's format: {_FORMATS}."),
    ] = Format.auto,
    scope: Annotated[
        str | None,
        typer.Option(
            "--scope", "-s", help="Put every row in this scope (default: the row's, or global)."
        ),
    ] = None,
    reason: Annotated[
        Reason | None,
        typer.Option(
            "--reason", "-r", metavar="REASON", help=f"Use this reason for every row: {_REASONS}."
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows per transaction.")] = 100_000,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Import suppressions from a CSV file (ESP exports, plain lists); idempotent."""
    import time

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from acctpipe.sqlstore.suppressions import import_csv
    from acctpipe.webhooks.wiring import stores_with_webhooks

    engine = open_store_engine(database_url)
    try:
        with Progress(
            TextColumn("import"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f}/s"),
            TimeRemainingColumn(),
            console=out,
            transient=True,
            disable=not out.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=file.stat().st_size, rows=0, rate=0.0)
            started, done = time.monotonic(), 0

            def written(rows: int) -> None:
                nonlocal done
                done += rows
                rate = done / max(time.monotonic() - started, 1e-6)
                progress.update(task, rows=done, rate=rate)

            report = import_csv(
                stores_with_webhooks(engine)[1],
                file,
                format=format_.value,
                scope=scope,
                reason=reason.value if reason else None,
                batch=batch,
                progress=lambda n: progress.advance(task, n),
                written=written,
            )
    finally:
        engine.dispose()
    _print_report(file, report)


def _print_report(file: Path, report: ImportReport) -> None:

    out.print(
        f"{file.name} ({report.format}): {report.rows} rows: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped_count} skipped, {report.bad_count} bad",
        markup=False,
        soft_wrap=True,
    )
    for title, notes, count in (
        ("skipped", report.skipped, report.skipped_count),
        ("bad", report.bad, report.bad_count),
    ):
        for note in notes[:20]:
            out.print(f"  {title}: line {note.line}: {note.message}", markup=False, soft_wrap=True)
        if count > 20:
            out.print(f"  … and {count - 20} more {title} rows", markup=False, soft_wrap=True)


@suppress_app.command(
    "export",
    epilog=(
        "Columns: address,scope,reason,detail,created_at,updated_at,expires_at "
        "(ISO 8601, UTC; expires_at empty: for good). `suppress import` reads it back.\n\n"
        "Examples:\n\n"
        "  acctpipe suppress export -o suppressions.csv\n\n"
        "  acctpipe suppress export --reason complaint | wc -l"
    ),
)
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file ('-': stdout).")
    ] = None,
    scope: Annotated[str | None, typer.Option("--scope", "-s", help="Only this scope.")] = None,
    reason: Annotated[
        Reason | None,
        typer.Option("--reason", "-r", metavar="REASON", help=f"Only this reason: {_REASONS}."),
    ] = None,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Write the suppression list as CSV, streamed (any size)."""
    from acctpipe.cli.render import is_stdout
    from acctpipe.sqlstore.suppressions import export_csv
    from acctpipe.webhooks.wiring import stores_with_webhooks

    engine = open_store_engine(database_url)
    try:
        store = stores_with_webhooks(engine)[1]
        kind: SuppressionReason | None = reason.value if reason else None
        if output is None or is_stdout(output):
            export_csv(store, sys.stdout, scope=scope, reason=kind)
            return
        with output.open("w", encoding="utf-8", newline="") as stream:
            count = export_csv(store, stream, scope=scope, reason=kind)
        err.print(f"exported {count} suppressions to {output}", markup=False)
    finally:
        engine.dispose()

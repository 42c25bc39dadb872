"""``acctpipe rules …``: the bounce rule table — list it, explain a diagnostic, and what
no specific rule recognised (registered in acctpipe.cli.app)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from acctpipe.cli.options import ConfigOption, RulesOption, err, out, parse_moment, table_of

__all__ = ["rules_app"]

rules_app = typer.Typer(help="Inspect the bounce rule table.", no_args_is_help=True)


@rules_app.command("list", epilog="Example:\n\n  acctpipe rules list --rules my-rules.toml")
def rules_list(rules: RulesOption = None, config: ConfigOption = None) -> None:
    """Show the rule table in the order rules are tried."""
    from acctpipe.cli.classify import print_rules

    print_rules(table_of(rules, config), out)


@rules_app.command(
    "explain", epilog="Example:\n\n  acctpipe rules explain 'smtp;550 5.7.1 [TSS09] All messages'"
)
def rules_explain(
    text: Annotated[str, typer.Argument(help="A diagnostic such as 'smtp;550 5.1.1 …'.")],
    status: Annotated[str, typer.Option("--status", help="Enhanced status if not in text.")] = "",
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """Show which rule classifies TEXT, and what was tried before it."""
    from acctpipe.cli.classify import print_explanation

    print_explanation(text, status, table_of(rules, config), out)


class UnmatchedFormat(StrEnum):
    """Output formats of ``acctpipe rules unmatched``."""

    table = "table"
    csv = "csv"
    json = "json"


@rules_app.command(
    "unmatched",
    epilog=(
        "A diagnostic is unmatched when a fallback rule (fallback = true: decided by its "
        "status or reply code alone) or no rule decided it, or it was left unknown. The same "
        "reply to many recipients is one row: addresses, IPs, hosts, ids and numbers are "
        "masked in the pattern column; example is one raw diagnostic.\n\n"
        "Examples:\n\n"
        "  acctpipe rules unmatched --db acct.duckdb\n\n"
        "  acctpipe rules unmatched --db acct.duckdb --since 1d --limit 50 -f csv > todo.csv"
    ),
)
def rules_unmatched(
    db: Annotated[Path, typer.Option("--db", help="The DuckDB file (read-only).")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events logged at or after: ISO 8601 or ago (6h, 7d)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most frequent groups shown.")] = 20,
    format_: Annotated[
        UnmatchedFormat, typer.Option("--format", "-f", help="table, csv or json.")
    ] = UnmatchedFormat.table,
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """List the most frequent failure diagnostics no specific rule recognised."""
    from acctpipe.cli.unmatched import run_unmatched

    try:
        start = parse_moment(since, "--since")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    code = run_unmatched(
        db, table_of(rules, config), since=start, limit=limit, format=format_.value, err=err
    )
    raise typer.Exit(code)

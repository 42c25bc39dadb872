"""The one-shot tools: check-config, config-reference, demo, classify-mail, classify-diag.

Declarations only; each command imports its implementation when it runs, so
``acctpipe --help`` loads none of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from acctpipe.cli.options import ConfigOption, RulesOption, err, out, table_of

__all__ = ["commands"]

# Registered on the app by acctpipe.cli.app, in this order (the order of --help).
commands = typer.Typer()


@commands.command(
    "check-config",
    epilog=(
        "Examples:\n\n"
        "  acctpipe check-config /etc/pmta/config\n\n"
        "  acctpipe check-config hot.conf --domain gmail.com --vmta ip-1"
    ),
)
def check_config(
    path: Annotated[Path, typer.Argument(help="PowerMTA-syntax configuration file.")],
    domain: Annotated[
        str | None,
        typer.Option("--domain", "-d", help="Show the effective settings for this destination."),
    ] = None,
    vmta: Annotated[
        str | None, typer.Option("--vmta", help="With --domain: as sent through this vmta.")
    ] = None,
) -> None:
    """Validate a configuration; print a summary, or every error as PATH:LINE: message."""
    from acctpipe.cli.config import run_check_config

    raise typer.Exit(run_check_config(path, domain, vmta, out, err))


@commands.command("config-reference")
def config_reference(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file ('-': stdout).")
    ] = None,
) -> None:
    """Print the configuration reference (Markdown) generated from the directive table."""
    from acctpipe.cli.render import is_stdout
    from mta.config.render import reference_markdown

    text = reference_markdown()
    if output is None or is_stdout(output):
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@commands.command(
    epilog=(
        "Examples:\n\n  acctpipe demo\n\n"
        "  acctpipe demo --serve   # keep the dashboard up afterwards (Ctrl-C stops)\n\n"
        "  acctpipe demo --data-dir /tmp/acctpipe-demo --messages 500"
    )
)
def demo(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            help="Where the demo writes its files (a previous demo's are wiped; "
            "a directory holding anything else is refused).",
        ),
    ] = Path("demo-data"),
    messages: Annotated[
        int, typer.Option("--messages", min=10, help="How many messages the campaign sends.")
    ] = 3000,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the MTA, API and dashboard running until Ctrl-C.")
    ] = False,
    api_listen: Annotated[
        str,
        typer.Option(
            "--api-listen", help="HOST:PORT of the API and dashboard (a free port if taken)."
        ),
    ] = "127.0.0.1:8025",
) -> None:
    """Run the whole loop on loopback and narrate it: no network, no services.

    Simulated gmail-, outlook- and yahoo-like receivers and a blocking one; a
    campaign injected over STARTTLS; bounces, suppressions, throttle decisions
    and webhooks as they happen; a summary, and a DuckDB file to query.
    """
    from acctpipe.demo.loop import DemoOptions, run_demo
    from acctpipe.demo.setup import parse_api_listen

    host, port = parse_api_listen(api_listen)
    options = DemoOptions(
        data_dir=data_dir, messages=messages, serve=serve, api_host=host, api_port=port
    )
    raise typer.Exit(130 if run_demo(options, out).interrupted else 0)


@commands.command(
    "classify-mail",
    epilog=(
        "Examples:\n\n"
        "  acctpipe classify-mail bounces/                 # a directory or maildir\n\n"
        "  acctpipe classify-mail --jsonl inbox.mbox > out.jsonl\n\n"
        "  cat message.eml | acctpipe classify-mail --jsonl -"
    ),
)
def classify_mail(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories (maildir), mbox files, or - (stdin).")
    ],
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="One JSON object per message instead of a summary.")
    ] = False,
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """Classify returned mail: DSNs, feedback reports (ARF), auto-replies, odd bounces."""
    from acctpipe.cli.classify import run_classify_mail

    raise typer.Exit(run_classify_mail(paths, jsonl, table_of(rules, config), out, sys.stdout))


@commands.command(
    "classify-diag",
    epilog=(
        "Examples:\n\n"
        "  acctpipe classify-diag 'smtp;550 5.1.1 user unknown'\n\n"
        "  cut -d, -f9 acct.csv | acctpipe classify-diag      # one diagnostic per line"
    ),
)
def classify_diag_cmd(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Diagnostics; none: read lines from stdin.")
    ] = None,
    status: Annotated[
        str, typer.Option("--status", help="An enhanced status to use when the text has none.")
    ] = "",
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """Classify SMTP replies / accounting dsnDiag values; one JSON line each."""
    from acctpipe.cli.classify import run_classify_diag, stdin_lines

    source = texts if texts else stdin_lines()
    raise typer.Exit(run_classify_diag(source, status, table_of(rules, config), sys.stdout))

"""The ``acctpipe`` command line (typer + rich).

This module assembles the app: the top-level commands and the command groups,
each of which its own module owns (``rules``, ``suppress``, ``throttle``,
``apikey``, ``webhook``); what they share is in :mod:`acctpipe.cli.options`.

Errors print as one line a person can act on (``path:line: <section>: message``
for configuration); ``--verbose`` adds the traceback. Exit codes: 0 success,
1 failure, 2 invalid configuration or usage.
"""

from __future__ import annotations

import logging
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from acctpipe import __version__
from acctpipe.cli.apikey import apikey_app
from acctpipe.cli.options import (
    ConfigOption,
    FeedbackDbOption,
    RulesOption,
    err,
    out,
    table_of,
)
from acctpipe.cli.rules import rules_app
from acctpipe.cli.suppress import suppress_app
from acctpipe.cli.throttle import throttle_app
from acctpipe.cli.webhook import webhook_app
from mta.errors import AcctpipeError, ConfigError

if TYPE_CHECKING:
    from acctpipe.esp import EspSettings

__all__ = ["app", "main"]

app = typer.Typer(
    name="acctpipe",
    help="Close the sender's loop: PowerMTA-style MTA → accounting files → DuckDB → decisions.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


class _State:
    verbose = False


def _version(value: bool) -> None:
    if value:
        out.print(f"acctpipe {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show details (tracebacks) on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """acctpipe — PowerMTA-compatible sending, accounting ingest and feedback in one tool."""
    _State.verbose = verbose
    # flufl.bounce logs a traceback for every detector that trips on odd mail; we
    # already survive those, so its noise is only for --verbose.
    logging.getLogger("flufl.bounce").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


@app.command(
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


@app.command("config-reference")
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


@app.command(
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


@app.command(
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


@app.command(
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


app.add_typer(rules_app, name="rules")
app.add_typer(suppress_app, name="suppress")
app.add_typer(throttle_app, name="throttle")
app.add_typer(apikey_app, name="apikey")
app.add_typer(webhook_app, name="webhook")


DbOption = Annotated[Path, typer.Option("--db", help="The DuckDB file (created if missing).")]
GlobOption = Annotated[
    list[str] | None,
    typer.Option(
        "--glob", "-g", help="File-name pattern to read in each directory (repeatable; *.csv)."
    ),
]


@app.command(
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


@app.command(
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


@app.command(
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


@app.command(
    "mta",
    epilog=(
        "Examples:\n\n"
        "  acctpipe mta --config /etc/acctpipe/mta.conf --data-dir /var/lib/acctpipe\n\n"
        "  kill -HUP $(jq .pid /var/lib/acctpipe/mta.json)   # reload the config\n\n"
        "  curl http://127.0.0.1:8080/queues   # with http-mgmt-port 8080"
    ),
)
def mta(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The PowerMTA-syntax config file.")
    ],
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", "-d", help="Spool, accounting and state files (relative paths here)."
        ),
    ] = Path("acctpipe-data"),
    database_url: FeedbackDbOption = None,
) -> None:
    """Run the embedded MTA: SMTP listeners, pickup folders, delivery, accounting.

    SIGHUP reloads the config (a bad one is refused and the running one kept);
    SIGTERM stops accepting, finishes in-flight deliveries and exits. With
    --database-url, the MTA follows the suppression list (refusing suppressed
    recipients) and the throttle decisions stored there.
    """
    from acctpipe.cli.mta import run_mta

    code = run_mta(config, data_dir, database_url=database_url, verbose=_State.verbose, err=err)
    raise typer.Exit(code)


# Options `run` and `serve` share (the ESP intake), declared once.
EspSnsCertHost = Annotated[
    list[str] | None,
    typer.Option(
        "--esp-sns-cert-host",
        help="Host pattern SNS signing certificates may be fetched from (repeatable; "
        "* is one DNS label; default sns.*.amazonaws.com).",
    ),
]
EspSnsCerts = Annotated[
    Path | None,
    typer.Option(
        "--esp-sns-certs", help="A PEM file or directory of SNS signing certificates to trust."
    ),
]
EspSnsTopic = Annotated[
    list[str] | None,
    typer.Option("--esp-sns-topic", help="Accept SNS messages of this TopicArn only (repeatable)."),
]
EspSnsConfirm = Annotated[
    bool,
    typer.Option(
        "--esp-sns-confirm",
        help="Confirm SNS subscriptions by fetching their SubscribeURL (default: record "
        "them in ESP_DIR/sns-subscriptions.jsonl for the operator).",
    ),
]
EspSendgridKey = Annotated[
    str | None,
    typer.Option(
        "--esp-sendgrid-key",
        envvar="ACCTPIPE_SENDGRID_PUBLIC_KEY",
        help="SendGrid's Event Webhook verification key (base64): signatures then required.",
    ),
]
EspMailgunKey = Annotated[
    str | None,
    typer.Option(
        "--esp-mailgun-key",
        envvar="ACCTPIPE_MAILGUN_SIGNING_KEY",
        show_default=False,
        help="Mailgun's HTTP webhook signing key: signatures then required (prefer the "
        "environment variable).",
    ),
]


@app.command(
    "run",
    epilog=(
        "Examples:\n\n"
        "  acctpipe run --config /etc/acctpipe/mta.conf --data-dir /var/lib/acctpipe\n\n"
        "  acctpipe run -c mta.conf --database-url postgresql://acctpipe@db/acctpipe"
        " --api-listen 0.0.0.0:8025   # one node of many\n\n"
        "  acctpipe sql --db acctpipe-data/events.duckdb 'SELECT type, count(*) FROM events"
        " GROUP BY 1'   # after it stops"
    ),
)
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The PowerMTA-syntax config file.")
    ],
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", "-d", help="Spool, accounting files, events.duckdb, state (see README)."
        ),
    ] = Path("acctpipe-data"),
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="ACCTPIPE_DATABASE_URL",
            help="Shared store for many nodes: postgresql://… (default: "
            "sqlite:///DATA_DIR/acctpipe.sqlite).",
        ),
    ] = None,
    api_listen: Annotated[
        str, typer.Option("--api-listen", help="HOST:PORT of the HTTP API and dashboard.")
    ] = "127.0.0.1:8025",
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", help="A policy TOML file over the defaults (repeatable)."),
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", help="This node's name (default: the host name).")
    ] = None,
    esp_dir: Annotated[
        Path | None,
        typer.Option(
            "--esp-dir",
            help="Where POST /v1/esp/{provider} writes ESP notifications as rb/f rows "
            "(default: DATA_DIR/esp; tailed with the accounting files).",
        ),
    ] = None,
    esp_sns_cert_host: EspSnsCertHost = None,
    esp_sns_certs: EspSnsCerts = None,
    esp_sns_topic: EspSnsTopic = None,
    esp_sns_confirm: EspSnsConfirm = False,
    sendgrid_key: EspSendgridKey = None,
    mailgun_key: EspMailgunKey = None,
    json_logs: Annotated[
        bool, typer.Option("--json-logs", help="Log one JSON object per line.")
    ] = False,
) -> None:
    """Run everything in one process: MTA, tailer, policy loop, webhook worker, HTTP API.

    SIGTERM stops accepting mail, finishes in-flight deliveries, ingests the
    last accounting rows and checkpoints DuckDB, then exits; SIGHUP reloads the
    MTA config. /readyz reports every component.
    """
    import socket

    from acctpipe.cli.run import run_all_in_one
    from acctpipe.node.full import RunOptions

    host, _, port = api_listen.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("--api-listen wants HOST:PORT, e.g. 127.0.0.1:8025")
    options = RunOptions(
        config=config,
        data_dir=data_dir,
        database_url=database_url,
        api_host=host.strip("[]"),
        api_port=int(port),
        policy=tuple(policy or ()),
        node=node or socket.gethostname(),
        esp=_esp_settings(
            esp_dir or data_dir / "esp",
            esp_sns_cert_host,
            esp_sns_certs,
            esp_sns_topic,
            confirm=esp_sns_confirm,
            sendgrid_key=sendgrid_key,
            mailgun_key=mailgun_key,
        ),
    )
    code = run_all_in_one(options, out, verbose=_State.verbose, json_logs=json_logs)
    raise typer.Exit(code)


@app.command(
    "serve",
    epilog=(
        "Examples:\n\n"
        "  acctpipe apikey create me --scope admin   # once: prints a key\n\n"
        "  acctpipe serve --db acct.duckdb --watch /var/log/pmta --port 8025\n\n"
        "  acctpipe serve --database-url postgresql://acctpipe@db/acctpipe --db acct.duckdb"
        " --mta-url http://127.0.0.1:8080\n\n"
        "  curl -H 'Authorization: Bearer acp_…' http://127.0.0.1:8025/v1/suppressions/changes"
    ),
)
def serve(
    db: Annotated[
        Path | None,
        typer.Option("--db", help="The DuckDB event store (analytics, reports, metrics)."),
    ] = None,
    watch: Annotated[
        list[Path] | None,
        typer.Option(
            "--watch",
            help="Tail these accounting directories in this process, with the feedback loop "
            "(repeatable; needs --db). Without it the event store is opened read-only.",
        ),
    ] = None,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            envvar="ACCTPIPE_DATABASE_URL",
            help="Suppressions, throttles, API keys, webhook outbox: sqlite:///FILE or "
            "postgresql://… (shared by every node).",
        ),
    ] = "sqlite:///acctpipe-data/acctpipe.sqlite",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0: any free port.")] = 8025,
    mta_url: Annotated[
        str | None,
        typer.Option(
            "--mta-url",
            help="The MTA's http-mgmt-port, for /v1/mta (queues, pause); "
            "http://:KEY@HOST:PORT if it sets http-admin-key.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="The MTA config: throttle bounds, queue names, its bounce-rules."
        ),
    ] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", help="A policy TOML file over the defaults (repeatable)."),
    ] = None,
    no_webhooks: Annotated[
        bool, typer.Option("--no-webhooks", help="Do not run the webhook worker here.")
    ] = False,
    summary_every: Annotated[
        float,
        typer.Option(
            "--summary-every", min=0, help="Seconds between delivery.summary events (0: off)."
        ),
    ] = 3600.0,
    export_dir: Annotated[
        Path | None, typer.Option("--export-dir", help="Keep a Parquet export of the events here.")
    ] = None,
    esp_dir: Annotated[
        Path | None,
        typer.Option(
            "--esp-dir",
            help="Take ESP notifications at POST /v1/esp/{provider} and write them here as "
            "rb/f rows (tailed with --watch; else point your tailer at it).",
        ),
    ] = None,
    esp_sns_cert_host: EspSnsCertHost = None,
    esp_sns_certs: EspSnsCerts = None,
    esp_sns_topic: EspSnsTopic = None,
    esp_sns_confirm: EspSnsConfirm = False,
    sendgrid_key: EspSendgridKey = None,
    mailgun_key: EspMailgunKey = None,
    json_logs: Annotated[
        bool, typer.Option("--json-logs", help="Log one JSON object per line.")
    ] = False,
) -> None:
    """Serve the HTTP API and dashboard, deliver webhooks, and optionally tail accounting files.

    Every endpoint but /healthz and /readyz needs an API key (acctpipe apikey
    create). SIGTERM stops accepting requests, lets deliveries and the current
    ingest batch finish, and exits.
    """
    from acctpipe.cli.serve import run_serve
    from acctpipe.node.api import NodeOptions

    if watch and db is None:
        raise typer.BadParameter("--watch needs --db (the DuckDB file to ingest into)")
    options = NodeOptions(
        database_url=database_url,
        db=db,
        watch=tuple(watch or ()),
        config=config,
        policy=tuple(policy or ()),
        export_dir=export_dir,
        mta_url=mta_url,
        host=host,
        port=port,
        webhooks=not no_webhooks,
        summary_every=summary_every,
        esp=_esp_settings(
            esp_dir,
            esp_sns_cert_host,
            esp_sns_certs,
            esp_sns_topic,
            confirm=esp_sns_confirm,
            sendgrid_key=sendgrid_key,
            mailgun_key=mailgun_key,
        )
        if esp_dir is not None
        else None,
    )
    raise typer.Exit(run_serve(options, out, verbose=_State.verbose, json_logs=json_logs))


@app.command(
    "simulate-isp",
    epilog=(
        "Examples:\n\n"
        "  acctpipe simulate-isp --profile gmail --listen 127.0.0.1:2526\n\n"
        "  acctpipe simulate-isp --profile my-isp.toml --maildir received/\n\n"
        "  Built-in profiles: default, gmail, outlook, yahoo, blocker, greylister, slow, flaky."
    ),
)
def simulate_isp(
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="A built-in profile NAME or a TOML FILE.")
    ] = "default",
    listen: Annotated[
        str, typer.Option("--listen", "-l", help="HOST:PORT to listen on (loopback only).")
    ] = "127.0.0.1:2526",
    maildir: Annotated[
        Path | None, typer.Option("--maildir", help="Also write accepted mail to this Maildir.")
    ] = None,
) -> None:
    """Run a simulated receiving ISP on loopback until Ctrl-C, then print its counters."""
    from acctpipe.cli.sim import run_simulate_isp

    raise typer.Exit(run_simulate_isp(profile, listen, maildir, out, err))


def _esp_settings(
    directory: Path,
    cert_hosts: list[str] | None,
    certs: Path | None,
    topics: list[str] | None,
    *,
    confirm: bool,
    sendgrid_key: str | None,
    mailgun_key: str | None,
) -> EspSettings:
    """The ESP intake's settings from the ``--esp-*`` options."""
    from acctpipe.esp import EspSettings
    from acctpipe.esp.settings import DEFAULT_SNS_CERT_HOSTS

    return EspSettings(
        directory=directory,
        sns_cert_hosts=tuple(cert_hosts or DEFAULT_SNS_CERT_HOSTS),
        sns_certs=certs,
        sns_topics=tuple(topics or ()),
        sns_confirm=confirm,
        sendgrid_public_key=sendgrid_key or None,
        mailgun_signing_key=mailgun_key or None,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning known errors into one line on stderr."""
    try:
        app(
            args=argv, prog_name="acctpipe"
        )  # standalone mode: usage errors print themselves and exit 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except AcctpipeError as exc:
        _report(exc)
        return 2 if isinstance(exc, ConfigError) else 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, detail on --verbose
        _report(exc)
        return 1
    return 0


def _report(exc: BaseException) -> None:
    from acctpipe.errors import one_line

    err.print(f"acctpipe: error: {one_line(exc)}", markup=False)
    if _State.verbose:
        err.print("".join(traceback.format_exception(exc)), markup=False)
    else:
        err.print("(run with --verbose for details)", style="dim")

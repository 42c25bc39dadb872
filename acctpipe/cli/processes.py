"""The long-running processes: mta, run, serve and simulate-isp.

Declarations only (with the ``--esp-*`` options ``run`` and ``serve`` share);
each command imports its implementation when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from acctpipe.cli.options import FeedbackDbOption, err, out, state

if TYPE_CHECKING:
    from acctpipe.esp import EspSettings

__all__ = ["commands"]

# Registered on the app by acctpipe.cli.app, in this order (the order of --help).
commands = typer.Typer()


@commands.command(
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

    code = run_mta(config, data_dir, database_url=database_url, verbose=state.verbose, err=err)
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


@commands.command(
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
    code = run_all_in_one(options, out, verbose=state.verbose, json_logs=json_logs)
    raise typer.Exit(code)


@commands.command(
    "serve",
    epilog=(
        "Examples:\n\n"
        "  acctpipe apikey create me --scope admin   # once: prints a key\n\n"
        "  acctpipe serve --db acct.duckdb --watch /var/log/pmta --port 8025\n\n"
        "  acctpipe serve --database-url postgresql://acctpipe@db/acctpipe --db acct.duckdb"
        " --mta-url http://127.0.0.1:8080\n\n"
        "  acctpipe serve --database-url postgresql://acctpipe@db/acctpipe --db acct.duckdb"
        " --workers 2   # API only, both cores: backends looking up every send\n\n"
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
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            envvar="ACCTPIPE_SERVE_WORKERS",
            help="API worker processes sharing the port (SO_REUSEPORT). 1 suits most; 2 on a "
            "2-core host whose backends look up suppressions faster than one process answers "
            "(about 1,000/s per core). Rate limits and the key cache are per worker; the "
            "webhook worker runs in one. Not with --watch or --esp-dir.",
        ),
    ] = 1,
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
    if workers > 1 and (watch or esp_dir is not None):
        # Each writes a file one process must own: the DuckDB store, the ESP accounting file.
        raise typer.BadParameter(
            "--watch and --esp-dir need --workers 1 (run them in an acctpipe serve of their own)"
        )
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
    raise typer.Exit(
        run_serve(options, out, verbose=state.verbose, json_logs=json_logs, workers=workers)
    )


@commands.command(
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

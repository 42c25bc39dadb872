"""``acctpipe apikey …``: create, list and revoke HTTP API keys (registered in acctpipe.cli.app)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from acctpipe.cli.options import DEFAULT_URL, DatabaseOption, open_store_engine, out, when

__all__ = ["apikey_app"]

apikey_app = typer.Typer(
    help="HTTP API keys: create (shown once), list, revoke.", no_args_is_help=True
)


class ScopeName(StrEnum):
    """Key scopes, lowest first: each allows what the ones below it allow."""

    read = "read"
    write = "write"
    admin = "admin"


@apikey_app.command(
    "create",
    epilog=(
        "Examples:\n\n"
        "  acctpipe apikey create crm-sync --scope write\n\n"
        "  acctpipe apikey create grafana            # read: reports, SQL, metrics\n\n"
        "  acctpipe apikey create ops --scope admin --rate-limit 6000"
    ),
)
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key (shown in logs).")],
    scope: Annotated[
        ScopeName,
        typer.Option(
            "--scope",
            "-s",
            help="read (look up, feed, reports, SQL, metrics), write (+ add/remove "
            "suppressions), admin (+ throttles, MTA queues, webhooks).",
        ),
    ] = ScopeName.read,
    rate_limit: Annotated[
        int | None,
        typer.Option("--rate-limit", min=1, help="Requests per minute (default: the server's)."),
    ] = None,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Create a key and print it once: only its SHA-256 digest is stored."""
    from acctpipe.api.keys import ApiKeyStore

    engine = open_store_engine(database_url)
    try:
        key, plaintext = ApiKeyStore(engine).create(name, scope.value, rate_limit=rate_limit)
    finally:
        engine.dispose()
    out.print(f"created key {key.key_id} ({key.name}, scope {key.scope})")
    out.print("store it now; it cannot be shown again:")
    print(plaintext)


@apikey_app.command("list", epilog="Example:\n\n  acctpipe apikey list --all")
def list_keys(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """List keys (never their secrets)."""
    from acctpipe.api.keys import ApiKeyStore

    engine = open_store_engine(database_url)
    try:
        keys = ApiKeyStore(engine).list(include_revoked=include_revoked)
    finally:
        engine.dispose()
    table = Table("key id", "name", "scope", "rate/min", "created", "last used", "revoked")
    for k in keys:
        table.add_row(
            k.key_id,
            k.name,
            k.scope,
            str(k.rate_limit or "default"),
            when(k.created_at),
            when(k.last_used_at, "never"),
            when(k.revoked_at, ""),
        )
    out.print(table)


@apikey_app.command("revoke", epilog="Example:\n\n  acctpipe apikey revoke 7hXk2mQ9pLr4")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's public id (see apikey list).")],
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Revoke a key: servers stop accepting it within seconds."""
    from acctpipe.api.keys import ApiKeyStore

    engine = open_store_engine(database_url)
    try:
        done = ApiKeyStore(engine).revoke(key_id)
    finally:
        engine.dispose()
    if not done:
        out.print(f"no live key {key_id}")
        raise typer.Exit(1)
    out.print(f"revoked {key_id}")

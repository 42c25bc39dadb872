"""``acctpipe throttle …``: what the throttle controller decided, and why (see acctpipe.cli.app)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from acctpipe.cli.options import DEFAULT_URL, DatabaseOption, open_store_engine, out, when

if TYPE_CHECKING:
    from acctpipe.sqlstore.suppressions import StoredThrottle

__all__ = ["throttle_app"]

throttle_app = typer.Typer(
    help="Adaptive throttling: the decisions in force, and the evidence behind them.",
    no_args_is_help=True,
)


def _rate(stored: StoredThrottle) -> str:
    rate = stored.decision.rate
    return "configured" if rate is None else f"{rate:g}/s"


def _connections(stored: StoredThrottle) -> str:
    cap = stored.decision.max_smtp_out
    return "configured" if cap is None else str(cap)


@throttle_app.command(
    "status",
    epilog=(
        "Examples:\n\n  acctpipe throttle status\n\n  acctpipe throttle status --domain gmail.com"
    ),
)
def status(
    domain: Annotated[
        str | None, typer.Option("--domain", "-d", help="Only this queue (destination domain).")
    ] = None,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """The throttle decisions in force now: per (queue, vmta), the action, rate and expiry."""
    from rich.table import Table

    from acctpipe.sqlstore.suppressions import ThrottleStore

    engine = open_store_engine(database_url)
    try:
        active = ThrottleStore(engine).active(datetime.now(UTC), queue=domain)
    finally:
        engine.dispose()
    if not active:
        where = f" for {domain}" if domain else ""
        out.print(
            f"no throttle decisions in force{where}: configured rates apply",
            markup=False,
            soft_wrap=True,
        )
        return
    table = Table("queue", "vmta", "action", "rate", "max-smtp-out", "until", "rule")
    for stored in active:
        d = stored.decision
        table.add_row(
            d.queue,
            d.vmta,
            d.action,
            _rate(stored),
            _connections(stored),
            when(d.expires_at),
            d.rule,
        )
    out.print(table)


@throttle_app.command(
    "explain",
    epilog=(
        "Examples:\n\n"
        "  acctpipe throttle explain gmail.com\n\n"
        "  acctpipe throttle explain gmail.com --vmta ip-1 --limit 5"
    ),
)
def explain(
    domain: Annotated[str, typer.Argument(help="The queue (destination domain) to explain.")],
    vmta: Annotated[str | None, typer.Option("--vmta", help="Only this vmta.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Decisions to show.")] = 20,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """The decisions for DOMAIN, newest first, with their rule, evidence and sample events."""
    from acctpipe.sqlstore.suppressions import ThrottleStore

    now = datetime.now(UTC)
    engine = open_store_engine(database_url)
    try:
        store = ThrottleStore(engine)
        history = store.history(domain, vmta, limit=limit)
        in_force = {s.id for s in store.active(now, queue=domain)}
    finally:
        engine.dispose()
    if not history:
        out.print(f"no throttle decisions recorded for {domain}", markup=False, soft_wrap=True)
        return
    for stored in history:
        d = stored.decision
        state = "IN FORCE" if stored.id in in_force else "past"
        out.print(
            f"{when(d.decided_at)}  {d.action} {d.queue} via {d.vmta}  "
            f"[{state}, until {when(d.expires_at)}]",
            markup=False,
            soft_wrap=True,
        )
        out.print(
            f"  rule {d.rule}: rate {_rate(stored)}, max-smtp-out {_connections(stored)}",
            markup=False,
            soft_wrap=True,
        )
        if d.detail:
            out.print(f"  why: {d.detail}", markup=False, soft_wrap=True)
        if d.evidence:
            shown = ", ".join(f"{k}={v:g}" for k, v in sorted(d.evidence.items()))
            out.print(f"  evidence: {shown}", markup=False, soft_wrap=True)
        if d.event_ids:
            out.print(
                f"  {d.events_caption()}: {', '.join(d.event_ids)}", markup=False, soft_wrap=True
            )

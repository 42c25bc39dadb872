"""``acctpipe webhook …``: CRM webhooks from the shell (registered in acctpipe.cli.app).

Every command but ``test`` takes ``--database-url`` (or ``ACCTPIPE_DATABASE_URL``)
and migrates the database on first use. Heavy imports happen inside the
commands, so ``acctpipe --help`` stays fast. Errors print as one line
(``acctpipe: error: …``) and exit 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Final

import typer

from acctpipe.cli.options import (
    DEFAULT_URL,
    DatabaseOption,
    err,
    open_store_engine,
    out,
    parse_moment,
    when,
)
from acctpipe.redact import redact_url, split_userinfo
from mta.errors import BadFilterError

if TYPE_CHECKING:
    from acctpipe.webhooks import Message, Subscription, WebhookWorker

__all__ = ["webhook_app"]

_TYPES: Final = (
    "suppression.created, suppression.updated, suppression.removed, complaint, hard_bounce, "
    "throttle.changed, delivery.summary"
)
_STATUSES: Final = "pending, delivered, dead, cancelled"

webhook_app = typer.Typer(
    help="CRM webhooks: subscriptions, signed test sends, the outbox, replay and delivery.",
    no_args_is_help=True,
)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Known failures (bad input, unknown ids, an unreachable database) as one line, exit 1."""
    from acctpipe.errors import AcctpipeError, one_line

    try:
        yield
    except (ValueError, LookupError, AcctpipeError, OSError) as exc:
        err.print(f"acctpipe: error: {one_line(exc)}", markup=False)
        raise typer.Exit(1) from None


def _print(text: str) -> None:

    out.print(text, markup=False, soft_wrap=True)


def _describe(sub: Subscription) -> str:
    state = "enabled" if sub.enabled else "disabled"
    if sub.deleted_at is not None:
        state = f"deleted {when(sub.deleted_at)}"
    parts = [f"{sub.id}", state, redact_url(sub.url), ",".join(sub.event_types)]
    if sub.filter:
        parts.append(
            "filter " + "; ".join(f"{k}={','.join(v)}" for k, v in sorted(sub.filter.items()))
        )
    if sub.description:
        parts.append(repr(sub.description))
    return "  ".join(parts)


def _message_line(m: Message) -> str:
    code = "-" if m.last_status_code is None else str(m.last_status_code)
    line = (
        f"{m.id}  {m.msg_id}  {m.status:<9}  {m.event_type:<19}  sub {m.subscription_id}  "
        f"attempts {m.attempts}  last {code}  created {when(m.created_at)}"
    )
    if m.status == "pending":
        line += f"  next {when(m.next_attempt_at)}"
    if m.last_error:
        line += f"  error: {redact_url(m.last_error)}"
    return line


@webhook_app.command(
    "test",
    epilog=(
        "Sends one sample event, signed like a real delivery (Standard Webhooks), and "
        "prints what was sent. Exit status 1 on a non-2xx answer or no answer. Needs no "
        "database.\n\n"
        "Examples:\n\n"
        "  acctpipe webhook test https://crm.example.com/hooks/acctpipe\n\n"
        "  acctpipe webhook test http://127.0.0.1:8080/hook --secret whsec_… --type hard_bounce"
    ),
)
def send_test(
    url: Annotated[str, typer.Argument(help="Where to POST the event (http or https).")],
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Sign with this whsec_… secret (default: a new one)."),
    ] = None,
    event_type: Annotated[
        str, typer.Option("--type", "-t", metavar="TYPE", help=f"The sample event: {_TYPES}.")
    ] = "complaint",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.", min=0.1)] = 10.0,
) -> None:
    """POST one signed sample event to URL and show the answer."""
    import httpx

    from acctpipe.webhooks import new_msg_id, new_secret, sample_event, sign_headers
    from acctpipe.webhooks.signing import validate_secret
    from acctpipe.webhooks.store import validate_url

    with _one_line_errors():
        validate_url(url)
        generated = secret is None
        key = new_secret() if secret is None else validate_secret(secret)
        event = sample_event(event_type)
        headers = sign_headers(new_msg_id(), event.body, [key])
    shown = redact_url(url)  # the request carries the credentials; the screen does not
    _print(f"POST {shown}")
    for name, value in headers.items():
        _print(f"  {name}: {value}")
    _print(f"  body: {event.body}")
    if generated:
        _print(f"secret (generated): {key}")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            bare, auth = split_userinfo(url)  # credentials as Basic auth, not in any log
            response = client.post(
                bare,
                auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth,
                content=event.body.encode(),
                headers=headers,
            )
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        err.print(f"acctpipe: error: no answer from {shown}: {redact_url(reason)}", markup=False)
        raise typer.Exit(1) from None
    _print(f"status: {response.status_code} {response.reason_phrase}")
    if not response.is_success:
        err.print(
            f"acctpipe: error: {shown} answered {response.status_code} {response.reason_phrase}",
            markup=False,
        )
        raise typer.Exit(1)


@webhook_app.command(
    "add",
    epilog=(
        f"Event types: {_TYPES}, or '*' for all. A plain --filter-domain matches the "
        "domain and its subdomains; *.example.com matches the subdomains only.\n\n"
        "Examples:\n\n"
        "  acctpipe webhook add https://crm.example.com/hooks -t complaint -t hard_bounce\n\n"
        "  acctpipe webhook add https://crm.example.com/hooks -t '*' --filter-domain example.com"
    ),
)
def add(
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https).")],
    event_types: Annotated[
        list[str],
        typer.Option("--type", "-t", metavar="TYPE", help="An event type (repeatable)."),
    ],
    domains: Annotated[
        list[str] | None,
        typer.Option("--filter-domain", metavar="DOMAIN", help="Only these domains (repeatable)."),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", help="A note for people (the CRM's name).")
    ] = "",
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Subscribe URL to events; prints the id and the signing secret (shown only once)."""
    from acctpipe.webhooks import WebhookStore

    with _one_line_errors():
        engine = open_store_engine(database_url)
        try:
            sub = WebhookStore(engine).create(
                url,
                event_types,
                filter={"domains": domains} if domains else None,
                description=description,
            )
        finally:
            engine.dispose()
    _print(f"added subscription {sub.id}: {_describe(sub)}")
    _print(f"secret: {sub.secret}")
    _print("  (shown only once: give it to the receiver now; rotate-secret makes a new one)")


@webhook_app.command(
    "list",
    epilog="Examples:\n\n  acctpipe webhook list\n\n  acctpipe webhook list --all",
)
def list_(
    include_deleted: Annotated[
        bool, typer.Option("--all", help="Include deleted subscriptions.")
    ] = False,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """The subscriptions: id, state, URL, event types, filter (never the secrets)."""
    from acctpipe.webhooks import WebhookStore

    with _one_line_errors():
        engine = open_store_engine(database_url)
        try:
            subs = WebhookStore(engine).list(include_deleted=include_deleted)
        finally:
            engine.dispose()
    if not subs:
        _print("no webhook subscriptions (add one with: acctpipe webhook add URL --type TYPE)")
    for sub in subs:
        _print(_describe(sub))


@webhook_app.command("remove", epilog="Examples:\n\n  acctpipe webhook remove 3")
def remove(
    subscription_id: Annotated[int, typer.Argument(metavar="ID", help="The subscription.")],
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Delete subscription ID and cancel its pending messages (history is kept)."""
    from acctpipe.webhooks import WebhookStore

    with _one_line_errors():
        engine = open_store_engine(database_url)
        try:
            cancelled = WebhookStore(engine).delete(subscription_id)
        finally:
            engine.dispose()
    _print(f"removed subscription {subscription_id} ({cancelled} pending messages cancelled)")


@webhook_app.command(
    "rotate-secret",
    epilog=(
        "During the grace period every delivery carries two signatures (new and old), so "
        "the receiver can switch secrets at any moment.\n\n"
        "Examples:\n\n"
        "  acctpipe webhook rotate-secret 3\n\n"
        "  acctpipe webhook rotate-secret 3 --grace-hours 0"
    ),
)
def rotate_secret(
    subscription_id: Annotated[int, typer.Argument(metavar="ID", help="The subscription.")],
    grace_hours: Annotated[
        float,
        typer.Option("--grace-hours", min=0, help="How long the old secret still signs."),
    ] = 24.0,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Give subscription ID a new secret; prints it once. The old one signs until the grace ends."""
    from acctpipe.webhooks import WebhookStore

    grace = timedelta(hours=grace_hours)
    with _one_line_errors():
        engine = open_store_engine(database_url)
        try:
            fresh = WebhookStore(engine).rotate_secret(subscription_id, grace=grace)
        finally:
            engine.dispose()
    _print(f"new secret for subscription {subscription_id}: {fresh}")
    if grace:
        _print(f"  the old secret also signs until {when(datetime.now(UTC) + grace)}")
    else:
        _print("  the old secret no longer signs")


@webhook_app.command(
    "messages",
    epilog=(
        f"Statuses: {_STATUSES}.\n\n"
        "Examples:\n\n"
        "  acctpipe webhook messages --status dead\n\n"
        "  acctpipe webhook messages --subscription 3 --after 1200"
    ),
)
def messages(
    status: Annotated[
        str | None, typer.Option("--status", "-s", help=f"Only this status: {_STATUSES}.")
    ] = None,
    subscription_id: Annotated[
        int | None, typer.Option("--subscription", metavar="ID", help="Only this subscription.")
    ] = None,
    after: Annotated[
        int | None, typer.Option("--after", metavar="N", help="Only rows after this row number.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """The outbox: each message's webhook-id, status, attempts and last error; then the backlog."""
    from acctpipe.webhooks import MESSAGE_STATUSES, WebhookStore

    with _one_line_errors():
        if status is not None and status not in MESSAGE_STATUSES:
            raise BadFilterError(f"--status: {status!r} is not one of {_STATUSES}")
        engine = open_store_engine(database_url)
        try:
            store = WebhookStore(engine)
            rows = store.messages(
                status=status,
                subscription_id=subscription_id,
                after_id=after,
                limit=limit,
            )
            stats = store.stats()
        finally:
            engine.dispose()
    for m in rows:
        _print(_message_line(m))
    _print(
        f"backlog: {stats['pending']} pending ({stats['due']} due), {stats['delivered']} "
        f"delivered, {stats['dead']} dead, {stats['cancelled']} cancelled; oldest pending "
        f"{stats['oldest_pending_age_seconds']:.0f} s"
    )


@webhook_app.command(
    "replay",
    epilog=(
        "A replay keeps the webhook-id and the body: receivers that deduplicate on "
        "webhook-id will ignore a message they already processed. --since and --until "
        "take ISO 8601 (UTC if no zone) or a duration ago (2h, 1d).\n\n"
        "Examples:\n\n"
        "  acctpipe webhook replay --id msg_01J0ABCDEF…\n\n"
        "  acctpipe webhook replay --since 2024-05-01T00:00:00Z --until 2024-05-02T00:00:00Z\n\n"
        "  acctpipe webhook replay --since 6h --subscription 3"
    ),
)
def replay(
    msg_ids: Annotated[
        list[str] | None,
        typer.Option("--id", metavar="MSG_ID", help="A message's webhook-id (repeatable)."),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Created at or after.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Created before.")] = None,
    subscription_id: Annotated[
        int | None, typer.Option("--subscription", metavar="ID", help="Only this subscription.")
    ] = None,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Queue messages for delivery again (same webhook-id), whatever their status."""
    from acctpipe.webhooks import WebhookStore

    with _one_line_errors():
        start, end = parse_moment(since, "--since"), parse_moment(until, "--until")
        engine = open_store_engine(database_url)
        try:
            count = WebhookStore(engine).replay(
                msg_ids, since=start, until=end, subscription_id=subscription_id
            )
        finally:
            engine.dispose()
    _print(f"replayed {count} messages (due now; `acctpipe webhook deliver` sends them)")


@webhook_app.command(
    "deliver",
    epilog=(
        "Several deliver processes (on one or many nodes sharing a PostgreSQL) can run at "
        "once: each message is leased to one of them at a time.\n\n"
        "Examples:\n\n"
        "  acctpipe webhook deliver\n\n"
        "  acctpipe webhook deliver --once"
    ),
)
def deliver(
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit.")] = False,
    node: Annotated[
        str | None, typer.Option("--node", help="This worker's name (default host:pid).")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per request.")
    ] = 10.0,
    database_url: DatabaseOption = DEFAULT_URL,
) -> None:
    """Deliver the outbox in the foreground until Ctrl-C (retries, dead letters)."""
    from acctpipe.webhooks import WebhookWorker

    name = node or f"{socket.gethostname()}:{os.getpid()}"
    with _one_line_errors():
        engine = open_store_engine(database_url)
        try:
            lease = timedelta(seconds=max(60.0, timeout * 3))
            worker = WebhookWorker(engine, node=name, timeout=timeout, lease=lease)
            if once:
                claimed = asyncio.run(_drain(worker))
                _print(f"processed {claimed} messages")
            else:
                _print(f"delivering webhooks as {name}; Ctrl-C to stop")
                asyncio.run(_forever(worker))
                _print("stopped")
        finally:
            engine.dispose()


async def _drain(worker: WebhookWorker) -> int:
    total = 0
    for _ in range(10_000):  # bounded: what is due now, not what falls due meanwhile
        claimed = await worker.run_once()
        total += claimed
        if not claimed:
            break
    return total


async def _forever(worker: WebhookWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

"""``acctpipe demo``: the closing tables, read back from the stores the loop wrote.

Outcomes come from the DuckDB event store (the ``delivery-by-domain`` report
and one aggregate query), decisions from the SQL store (suppressions by
reason, throttle decisions by action, the webhook outbox), and the webhook
receiver says how many deliveries it verified. The numbers are returned too
(:class:`Totals`), so the caller and the tests can check them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, get_args

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from acctpipe.analytics import EventSource, run_report, throttle_history
from acctpipe.demo.campaign import InjectStats
from acctpipe.demo.receiver import WebhookReceiver
from acctpipe.policy.types import SuppressionReason
from acctpipe.sqlstore.suppressions import SuppressionStore
from acctpipe.webhooks import WebhookStore

__all__ = ["Totals", "print_summary", "read_totals"]

_TOTALS: Final = """
SELECT count(*) AS events,
    count(*) FILTER (WHERE type = 'd') AS delivered,
    count(*) FILTER (WHERE type IN ('t', 'tq')) AS deferrals,
    count(DISTINCT rcpt) FILTER (WHERE type = 't') AS deferred_rcpts,
    count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'hard') AS hard,
    count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'soft') AS soft,
    count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'spam') AS spam,
    count(*) FILTER (WHERE type = 'f') AS complaints
FROM events"""


@dataclass(slots=True)
class Totals:
    """The run in numbers (events from DuckDB, decisions from the SQL store)."""

    events: int = 0
    delivered: int = 0
    deferrals: int = 0
    deferred_rcpts: int = 0
    hard: int = 0
    soft: int = 0
    spam: int = 0
    complaints: int = 0
    suppressions: Counter[str] = field(default_factory=Counter)
    throttles: Counter[str] = field(default_factory=Counter)
    webhooks_delivered: int = 0
    webhooks_pending: int = 0
    webhooks_verified: int = 0
    webhooks_refused: int = 0
    by_domain: list[tuple[object, ...]] = field(default_factory=list)
    by_domain_columns: list[str] = field(default_factory=list)


def read_totals(
    events: EventSource, engine: Engine, receiver: WebhookReceiver, since: datetime
) -> Totals:
    """Read every number of the summary from the stores."""
    totals = Totals()
    with events.connect() as conn:
        row = conn.execute(_TOTALS).fetchone()
    if row is not None:
        (
            totals.events,
            totals.delivered,
            totals.deferrals,
            totals.deferred_rcpts,
            totals.hard,
            totals.soft,
            totals.spam,
            totals.complaints,
        ) = (int(v or 0) for v in row)
    report = run_report(events, "delivery-by-domain", {"days": 1})
    totals.by_domain_columns = list(report.columns)
    totals.by_domain = list(report.rows)
    kept = SuppressionStore(engine).counts()  # the kept counts: no count over the list
    for reason in get_args(SuppressionReason):
        if n := sum(v for (r, _), v in kept.items() if r == reason):
            totals.suppressions[reason] = n
    history = throttle_history(engine, since=since, limit=10_000)
    action = history.columns.index("action")
    totals.throttles = Counter(str(r[action]) for r in history.rows)
    stats = WebhookStore(engine).stats()
    totals.webhooks_delivered = stats["delivered"]
    totals.webhooks_pending = stats["pending"]
    totals.webhooks_verified = receiver.total
    totals.webhooks_refused = receiver.snapshot()[1]
    return totals


def _cell(value: object) -> str:
    if value is None:
        return "—"  # a complaint names no vmta
    return f"{value:,}" if isinstance(value, int) else str(value)


def _parts(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {n:,}" for k, n in counts.most_common()) or "none"


_SHOWN: Final = (
    ("rcpt_domain", "destination"),
    ("vmta", "vmta"),
    ("delivered", "delivered"),
    ("hard_bounces", "hard"),
    ("soft_bounces", "soft"),
    ("spam_blocks", "spam"),
    ("deferrals", "deferred"),
    ("complaints", "FBL"),
)


def print_summary(
    out: Console,
    totals: Totals,
    injected: InjectStats,
    *,
    queued: int,
    elapsed: float,
) -> None:
    """Print the per-destination table and the summary table."""
    table = Table(title="Outcomes per destination (DuckDB report delivery-by-domain)")
    for _, title in _SHOWN:
        if title in ("destination", "vmta"):
            table.add_column(title, no_wrap=True)
        else:
            table.add_column(title, justify="right")
    index = [totals.by_domain_columns.index(name) for name, _ in _SHOWN]
    for row in totals.by_domain:
        table.add_row(*(_cell(row[i]) for i in index))
    out.print(table)

    summary = Table(title="acctpipe demo — summary")
    summary.add_column("")
    summary.add_column("count", justify="right")
    summary.add_column("what it means")
    refused = f" ({injected.refused:,} refused at RCPT)" if injected.refused else ""
    summary.add_row(
        "messages injected", f"{injected.accepted:,}", f"accepted over STARTTLS, fsync'd{refused}"
    )
    summary.add_row("delivered", f"{totals.delivered:,}", "250 from the receiver: d records")
    summary.add_row(
        "deferred (attempts)",
        f"{totals.deferrals:,}",
        f"{totals.deferred_rcpts:,} recipients; {queued:,} still queued for a retry",
    )
    summary.add_row("bounced: hard", f"{totals.hard:,}", "unknown users (5.1.1)")
    summary.add_row("bounced: soft", f"{totals.soft:,}", "full mailboxes refused for good")
    summary.add_row("bounced: spam", f"{totals.spam:,}", "blocklisted by the receiver (5.7.1)")
    summary.add_row("complaints", f"{totals.complaints:,}", "ARF feedback-loop reports")
    summary.add_row(
        "suppressions",
        f"{sum(totals.suppressions.values()):,}",
        _parts(totals.suppressions) + "; spam-class refusals suppress nobody",
    )
    summary.add_row(
        "throttle decisions", f"{sum(totals.throttles.values()):,}", _parts(totals.throttles)
    )
    pending = f", {totals.webhooks_pending:,} pending" if totals.webhooks_pending else ""
    failed = f", {totals.webhooks_refused:,} failed" if totals.webhooks_refused else ""
    summary.add_row(
        "webhooks",
        f"{totals.webhooks_delivered:,}",
        f"delivered{pending}; {totals.webhooks_verified:,} signatures verified{failed}",
    )
    summary.add_row("events in DuckDB", f"{totals.events:,}", "one row per accounting record")
    summary.add_row("elapsed", f"{elapsed:.1f} s", "wall time, setup to summary")
    out.print(summary)

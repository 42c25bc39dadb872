"""Prometheus metrics, gathered when scraped (docs/analytics.md lists them).

:func:`build_registry` returns a fresh :class:`~prometheus_client.CollectorRegistry`
holding one collector that reads, at scrape time, three components:

* ``events`` — the DuckDB store (an :class:`~acctpipe.analytics.source.EventSource`):
  event counts, rule hits, today's rates (the dashboard's, from :mod:`acctpipe.eventstore.rates`),
  ingest lag, quarantined rows;
* ``database`` — the SQL store (an :class:`sqlalchemy.Engine`): suppressions,
  active throttles, the webhook outbox;
* ``queues`` — a callable returning ``(queue, vmta, size)`` from the MTA.

A component that fails (the DuckDB file locked, the database down) does not
fail the scrape: its metrics are left out and ``acctpipe_scrape_errors{component}``
is 1 (0 for a component that answered).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

import duckdb
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from acctpipe.analytics.reports import REPORTS
from acctpipe.analytics.source import EventSource
from acctpipe.analytics.sql import execute_bounded
from acctpipe.eventstore.rates import RATES
from acctpipe.sqlstore.schema import MESSAGE_STATUSES, suppression_counts, webhook_messages
from acctpipe.sqlstore.throttles import ThrottleStore
from mta.errors import AcctpipeError

__all__ = ["QueueSizes", "build_registry", "render"]

QueueSizes = Callable[[], list[tuple[str, str, int]]]
Clock = Callable[[], datetime]

_LOG = logging.getLogger(__name__)
_NONE: Final = "none"  # label value for a NULL (a delivery has no bounce class)

_EVENT_COUNTS: Final = "SELECT type, bounce_class, count(*) FROM events GROUP BY ALL"
# Every rule id, whatever the engine's "+temporary"/"+security-status" adjustment: one
# columnar GROUP BY per scrape, like _EVENT_COUNTS (a counter, so rate() works across
# days); at most one series per rule in the tables ever used, hence the row bound.
_RULE_HITS: Final = """SELECT split_part(bounce_rule, '+', 1) AS rule, count(*)
FROM events WHERE bounce_rule IS NOT NULL GROUP BY ALL ORDER BY rule"""
_INGEST: Final = """SELECT max(newest_time_logged),
    coalesce(sum(greatest(size_seen - "offset", 0)) FILTER (WHERE status = 'active'), 0),
    (SELECT count(*) FROM quarantine)
FROM files"""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Collector(Collector):
    def __init__(
        self,
        source: EventSource | None,
        engine: Engine | None,
        queues: QueueSizes | None,
        clock: Clock,
        timeout: float,
    ) -> None:
        self._source = source
        self._engine = engine
        self._queues = queues
        self._clock = clock
        self._timeout = timeout

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        errors = GaugeMetricFamily(
            "acctpipe_scrape_errors",
            "1 when a component could not be read during this scrape (its metrics are absent)",
            labels=["component"],
        )
        parts: list[tuple[str, Callable[[], list[Metric]]]] = []
        source, engine, queues = self._source, self._engine, self._queues
        if source is not None:
            parts.append(("events", lambda: self._events(source, now)))
        if engine is not None:
            parts.append(("database", lambda: _database(engine, now)))
        if queues is not None:
            parts.append(("queues", lambda: _queue_sizes(queues)))
        for component, gather in parts:
            try:
                metrics = gather()
            except (AcctpipeError, duckdb.Error) as exc:  # expected: one line
                _LOG.warning("metrics: cannot read %s: %s", component, exc)
                errors.add_metric([component], 1)
                continue
            except Exception:  # noqa: BLE001 - one broken component must not fail the scrape
                _LOG.warning("metrics: cannot read %s", component, exc_info=True)
                errors.add_metric([component], 1)
                continue
            errors.add_metric([component], 0)
            yield from metrics
        yield errors

    # -- DuckDB ---------------------------------------------------------------------------

    def _events(self, source: EventSource, now: datetime) -> list[Metric]:
        with source.connect() as conn:
            counts = execute_bounded(conn, _EVENT_COUNTS, max_rows=10_000, timeout=self._timeout)
            hits = execute_bounded(conn, _RULE_HITS, max_rows=10_000, timeout=self._timeout)
            ingest = execute_bounded(conn, _INGEST, max_rows=1, timeout=self._timeout)
            # The very query the dashboard's cards show: today (UTC) up to now.
            day = REPORTS["rates-by-day"].run(conn, {"days": 1}, now=now, timeout=self._timeout)
        events = CounterMetricFamily(
            "acctpipe_events",
            "Accounting records in the store, by record type and our bounce class",
            labels=["type", "bounce_class"],
        )
        bounces = CounterMetricFamily(
            "acctpipe_bounces", "Bounce records (b, rb) in the store", labels=["bounce_class"]
        )
        by_class: dict[str, int] = {}
        delivered = deferred = 0
        for kind, cls, count in counts.rows:
            label = cls or _NONE
            events.add_metric([str(kind), label], int(count))
            if kind == "d":
                delivered += int(count)
            elif kind in ("t", "tq"):
                deferred += int(count)
            elif kind in ("b", "rb"):
                by_class[label] = by_class.get(label, 0) + int(count)
        for label, count in sorted(by_class.items()):
            bounces.add_metric([label], count)
        rule_hits = CounterMetricFamily(
            "acctpipe_rule_hits",
            "Records in the store each classification rule decided (its id without +adjustment)",
            labels=["rule"],
        )
        for rule, count in hits.rows:
            rule_hits.add_metric([str(rule)], int(count))
        newest, behind, quarantined = ingest.rows[0]
        metrics: list[Metric] = [
            events,
            CounterMetricFamily(
                "acctpipe_deliveries", "Delivery records (d) in the store", value=delivered
            ),
            CounterMetricFamily(
                "acctpipe_deferrals", "Deferral records (t, tq) in the store", value=deferred
            ),
            bounces,
            rule_hits,
            CounterMetricFamily(
                "acctpipe_quarantined_rows",
                "Records that could not be read, kept in the quarantine table",
                value=int(quarantined),
            ),
            GaugeMetricFamily(
                "acctpipe_ingest_bytes_behind",
                "Bytes of followed files seen but not yet committed",
                value=int(behind),
            ),
        ]
        today = dict(zip(day.columns, day.rows[-1], strict=True)) if day.rows else {}
        for rate in RATES:
            value = today.get(rate.name)
            if value is not None:  # no divisor today: no sample (as the dashboard shows "—")
                help_text = f"Today (UTC) so far: {rate.description}"
                metrics.append(GaugeMetricFamily(f"acctpipe_{rate.name}", help_text, value=value))
        if newest is not None:
            metrics.append(
                GaugeMetricFamily(
                    "acctpipe_ingest_lag_seconds",
                    "Seconds between now and the newest time_logged committed to the store",
                    value=(now - newest).total_seconds(),
                )
            )
        return metrics


# -- SQL store ----------------------------------------------------------------------------------


def _database(engine: Engine, now: datetime) -> list[Metric]:
    w, kept = webhook_messages.c, suppression_counts.c
    # The counts every store write keeps (a handful of rows): a scrape never counts the list.
    by_reason = select(kept.reason, kept.scope_kind, kept.n).where(kept.n != 0)
    by_status = select(w.status, func.count()).group_by(w.status)
    oldest = select(func.min(w.created_at)).where(w.status == "pending")
    with engine.connect() as conn:
        reason_rows: list[Any] = list(conn.execute(by_reason))
        status_rows: list[Any] = list(conn.execute(by_status))
        oldest_pending = conn.execute(oldest).scalar()
    throttles = ThrottleStore(engine).active(now)

    suppressed = GaugeMetricFamily(
        "acctpipe_suppressions",
        "Suppressions stored, by reason and scope kind (global, domain, list); an expired "
        "one counts until the sweeper removes it (every minute while the feedback loop runs)",
        labels=["reason", "scope_kind"],
    )
    for reason, scope_kind, count in reason_rows:
        suppressed.add_metric([str(reason), str(scope_kind)], int(count))
    active_throttles = GaugeMetricFamily(
        "acctpipe_throttles_active",
        "(queue, vmta) pairs with a throttle decision in force, by action",
        labels=["action"],
    )
    actions: dict[str, int] = {}
    for stored in throttles:
        actions[stored.decision.action] = actions.get(stored.decision.action, 0) + 1
    for action, count in sorted(actions.items()):
        active_throttles.add_metric([action], count)
    messages = GaugeMetricFamily(
        "acctpipe_webhook_messages", "Webhook outbox messages by status", labels=["status"]
    )
    counts = {str(status): int(count) for status, count in status_rows}
    for status in sorted(set(MESSAGE_STATUSES) | set(counts)):
        messages.add_metric([status], counts.get(status, 0))
    age = 0.0 if oldest_pending is None else max((now - oldest_pending).total_seconds(), 0.0)
    return [
        suppressed,
        active_throttles,
        messages,
        GaugeMetricFamily(
            "acctpipe_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook message (0 when none is pending)",
            value=age,
        ),
    ]


# -- MTA -----------------------------------------------------------------------------------------


def _queue_sizes(queues: QueueSizes) -> list[Metric]:
    sizes = GaugeMetricFamily(
        "acctpipe_queue_size",
        "Messages queued in the MTA, by queue and vmta",
        labels=["queue", "vmta"],
    )
    for queue, vmta, size in queues():
        sizes.add_metric([queue, vmta], size)
    return [sizes]


def build_registry(
    *,
    source: EventSource | None = None,
    engine: Engine | None = None,
    queues: QueueSizes | None = None,
    clock: Clock = _utcnow,
    timeout: float = 10.0,
) -> CollectorRegistry:
    """A new registry whose one collector reads the given components at each scrape.

    Nothing is read here; ``clock`` gives "now" (UTC-aware) and ``timeout``
    bounds each DuckDB query.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(source, engine, queues, clock, timeout))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format (``text/plain; version=0.0.4``)."""
    return generate_latest(registry)

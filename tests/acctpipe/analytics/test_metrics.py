"""Prometheus metrics: read at scrape time, equal to the data, and a broken part never fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert

from acctpipe.analytics import ReadOnlyFile, SharedStore, build_registry, render
from acctpipe.eventstore import Store
from acctpipe.policy.types import ThrottleAction, ThrottleDecision
from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.schema import webhook_messages, webhook_subscriptions
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from tests.acctpipe.analytics._data import NOW, Row, build, raw_events
from tests.acctpipe.sqlstore._decisions import decision

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture(scope="module")
def rows(events_db: Path) -> list[Row]:
    """Every stored event, for the expected values."""
    return raw_events(events_db)


@pytest.fixture
def shared(events_db: Path) -> Iterator[SharedStore]:
    """The events database opened by its writer, read through a SharedStore."""
    store = Store.open(events_db)
    yield SharedStore(store)
    store.close()


def _scrape(registry: prometheus_client.CollectorRegistry) -> Samples:
    text = render(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def test_event_metrics_equal_the_store(shared: SharedStore, rows: list[Row]) -> None:
    """Event, delivery, deferral, bounce and quarantine counts and the lag match the data."""
    samples = _scrape(build_registry(source=shared, clock=lambda: NOW))
    by_type: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.type, row.cls or "none")
        by_type[key] = by_type.get(key, 0) + 1
    events = {
        (dict(labels)["type"], dict(labels)["bounce_class"]): value
        for (name, labels), value in samples.items()
        if name == "acctpipe_events_total"
    }
    assert events == by_type
    assert samples[("acctpipe_deliveries_total", ())] == sum(r.type == "d" for r in rows)
    assert samples[("acctpipe_deferrals_total", ())] == sum(r.type in ("t", "tq") for r in rows)
    for cls in ("hard", "soft", "spam"):
        expected = sum(r.type in ("b", "rb") and r.cls == cls for r in rows)
        assert samples[("acctpipe_bounces_total", (("bounce_class", cls),))] == expected
    assert samples[("acctpipe_quarantined_rows_total", ())] == 1
    assert samples[("acctpipe_ingest_bytes_behind", ())] == 0
    newest = max(r.at for r in rows)
    assert samples[("acctpipe_ingest_lag_seconds", ())] == (NOW - newest).total_seconds()
    assert samples[("acctpipe_scrape_errors", (("component", "events"),))] == 0


@pytest.mark.slow
def test_metrics_are_read_at_scrape_time(tmp_path: Path) -> None:
    """Building the registry reads nothing; each scrape sees the store as it is then."""
    store = Store.open(tmp_path / "empty.duckdb")
    try:
        registry = build_registry(source=SharedStore(store), clock=lambda: NOW)
        first = _scrape(registry)
        assert "acctpipe_ingest_lag_seconds" not in _names(first)  # nothing ingested yet
        assert first[("acctpipe_deliveries_total", ())] == 0
        build(tmp_path / "acct")  # a second store: this one stays empty
        assert _scrape(registry)[("acctpipe_deliveries_total", ())] == 0
    finally:
        store.close()


def test_registries_are_private(shared: SharedStore) -> None:
    """Nothing is registered in prometheus_client's global registry."""
    build_registry(source=shared)
    global_names = _names(_scrape(prometheus_client.REGISTRY))
    assert not {n for n in global_names if n.startswith("acctpipe_")}


def test_database_metrics_equal_the_sql_store(engine: Engine) -> None:
    """Suppressions by reason and scope kind once the sweeper has run, active throttles,
    the webhook outbox."""
    SuppressionStore(engine).apply(
        [
            decision("a@example.com", "hard-bounce"),
            decision("b@example.com", "hard-bounce"),
            decision("c@example.com", "complaint", scope="domain:news.example.com"),
            decision("d@example.com", "unsubscribe", scope="list:weekly"),
            decision("e@example.com", "soft-bounce-repeated", at=NOW - timedelta(days=2), days=1),
        ]
    )
    SuppressionStore(engine, clock=lambda: NOW).expire(NOW)  # the sweeper (e has lapsed)
    throttles = ThrottleStore(engine)
    plan: list[tuple[str, ThrottleAction, int, int]] = [
        ("gmail.com", "slow", 5, 30),
        ("yahoo.com", "pause", 5, 30),
        ("web.de", "slow", 5, 30),
        ("aol.com", "slow", 120, 30),  # expired
    ]
    for queue, action, minutes_ago, lasts in plan:
        at = NOW - timedelta(minutes=minutes_ago)
        throttles.record(_throttle(queue, action, at, at + timedelta(minutes=lasts)))
    with engine.begin() as conn:
        sub = conn.execute(
            insert(webhook_subscriptions).returning(webhook_subscriptions.c.id),
            {
                "url": "http://127.0.0.1:9/hook",
                "event_types": [],
                "filter": {},
                "secrets": [],
                "enabled": True,
                "created_at": NOW,
                "updated_at": NOW,
            },
        ).scalar_one()
        for n, (status, age) in enumerate(
            [("pending", 90), ("pending", 30), ("delivered", 500), ("dead", 900)]
        ):
            conn.execute(
                insert(webhook_messages),
                {
                    "msg_id": f"msg_{n}",
                    "subscription_id": sub,
                    "event_type": "suppression.added",
                    "body": "{}",
                    "created_at": NOW - timedelta(seconds=age),
                    "status": status,
                    "attempts": 0,
                    "next_attempt_at": NOW,
                },
            )
    samples = _scrape(build_registry(engine=engine, clock=lambda: NOW))
    suppressions = {
        tuple(v for _, v in labels): value
        for (name, labels), value in samples.items()
        if name == "acctpipe_suppressions"
    }
    assert suppressions == {
        ("hard-bounce", "global"): 2,
        ("complaint", "domain"): 1,
        ("unsubscribe", "list"): 1,
    }
    assert samples[("acctpipe_throttles_active", (("action", "slow"),))] == 2
    assert samples[("acctpipe_throttles_active", (("action", "pause"),))] == 1
    for status, count in [("pending", 2), ("delivered", 1), ("dead", 1), ("cancelled", 0)]:
        assert samples[("acctpipe_webhook_messages", (("status", status),))] == count
    assert samples[("acctpipe_webhook_oldest_pending_seconds", ())] == 90
    assert samples[("acctpipe_scrape_errors", (("component", "database"),))] == 0


def _throttle(
    queue: str, action: ThrottleAction, at: datetime, until: datetime
) -> ThrottleDecision:
    return ThrottleDecision(
        queue=queue,
        vmta="vmta-a",
        action=action,
        rule="test",
        decided_at=at,
        expires_at=until,
        rate=1.0,
        max_smtp_out=1,
        evidence={},
        event_ids=(),
        detail="",
    )


def test_an_empty_outbox_has_no_pending_age(engine: Engine) -> None:
    """With nothing pending the oldest-pending age is 0 and every status is listed as 0."""
    samples = _scrape(build_registry(engine=engine, clock=lambda: NOW))
    assert samples[("acctpipe_webhook_oldest_pending_seconds", ())] == 0
    assert samples[("acctpipe_webhook_messages", (("status", "pending"),))] == 0
    assert "acctpipe_throttles_active" not in _names(samples)


def test_queue_sizes_come_from_the_mta() -> None:
    """``acctpipe_queue_size`` has one sample per (queue, vmta) the MTA reports."""
    registry = build_registry(queues=lambda: [("gmail.com", "vmta-a", 12), ("web.de", "b", 0)])
    samples = _scrape(registry)
    assert samples[("acctpipe_queue_size", (("queue", "gmail.com"), ("vmta", "vmta-a")))] == 12
    assert samples[("acctpipe_queue_size", (("queue", "web.de"), ("vmta", "b")))] == 0


def test_a_failing_component_does_not_fail_the_scrape(
    events_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A locked or missing DuckDB, a dead database or a broken MTA hook only flag their part."""
    store = Store.open(events_db)  # this process writes it: ReadOnlyFile cannot open it
    broken_engine = make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite'}")

    def broken_queues() -> list[tuple[str, str, int]]:
        raise RuntimeError("mgmt API down")

    try:
        caplog.set_level(logging.WARNING, "acctpipe.analytics.metrics")
        registry = build_registry(
            source=ReadOnlyFile(events_db),
            engine=broken_engine,
            queues=broken_queues,
            clock=lambda: NOW,
        )
        samples = _scrape(registry)
    finally:
        store.close()
        broken_engine.dispose()
    for component in ("events", "database", "queues"):
        assert samples[("acctpipe_scrape_errors", (("component", component),))] == 1
    assert _names(samples) == {"acctpipe_scrape_errors"}
    assert "cannot read events" in caplog.text
    assert "cannot read queues" in caplog.text


def test_ingest_lag_uses_the_current_utc_time_by_default(
    shared: SharedStore, rows: list[Row]
) -> None:
    """Without a clock, the lag is the current UTC time minus the newest event."""
    newest = max(r.at for r in rows)
    before = datetime.now(UTC)
    lag = _scrape(build_registry(source=shared))[("acctpipe_ingest_lag_seconds", ())]
    after = datetime.now(UTC)
    assert (before - newest).total_seconds() <= lag <= (after - newest).total_seconds()


def test_rule_hit_counts_equal_the_store(shared: SharedStore) -> None:
    """/metrics counts the records each rule decided, its adjustments folded into the rule."""
    samples = _scrape(build_registry(source=shared, clock=lambda: NOW))
    hits = {
        dict(labels)["rule"]: value
        for (name, labels), value in samples.items()
        if name == "acctpipe_rule_hits_total"
    }
    with shared.connect() as conn:
        stored = conn.execute(
            "SELECT bounce_rule FROM events WHERE bounce_rule IS NOT NULL"
        ).fetchall()
    expected: dict[str, int] = {}
    for (rule,) in stored:
        base = str(rule).split("+", 1)[0]
        expected[base] = expected.get(base, 0) + 1
    assert hits == expected
    assert hits
    assert all("+" not in rule for rule in hits)

"""The node's delivery summaries: what each node tells the CRM about its own traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from acctpipe.node import delivery_summary
from tests.acctpipe.api.events import events_file


def test_delivery_summary_counts_the_period_per_domain_and_vmta(tmp_path: Path) -> None:
    """Totals equal the sum of the groups and the events of the period, by type."""
    path = events_file(tmp_path / "events.duckdb", rows=400)
    now = datetime.now(UTC)
    with duckdb.connect(str(path), read_only=True) as conn:
        summary = delivery_summary(conn, now - timedelta(hours=2), now + timedelta(minutes=1))
        (delivered,) = conn.execute("SELECT count(*) FROM events WHERE type = 'd'").fetchone() or (
            0,
        )
        empty = delivery_summary(conn, now - timedelta(days=3), now - timedelta(days=2))
    totals = summary["totals"]
    assert totals["delivered"] == delivered
    assert totals["bounced"] == sum(g["bounced"] for g in summary["groups"])
    assert {"domain", "vmta", "deferred", "complaints"} <= set(summary["groups"][0])
    assert empty["groups"] == []
    assert empty["totals"]["delivered"] == 0

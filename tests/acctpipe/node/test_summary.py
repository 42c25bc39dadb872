"""The node's delivery summaries: what each node tells the CRM about its own traffic."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from acctpipe.node.api import delivery_summary
from tests.acctpipe.api.events import events_file


@pytest.mark.slow
def test_delivery_summary_counts_the_window_per_domain_and_vmta(tmp_path: Path) -> None:
    """Totals equal the sum of the groups and the events ingested in the window, by type."""
    path = events_file(tmp_path / "events.duckdb", rows=400)
    with duckdb.connect(str(path), read_only=True) as conn:
        summary = delivery_summary(conn, -1, 10**9)
        (delivered,) = conn.execute("SELECT count(*) FROM events WHERE type = 'd'").fetchone() or (
            0,
        )
        (last,) = conn.execute("SELECT max(rowid) FROM events").fetchone() or (0,)
        empty = delivery_summary(conn, last, last)
    totals = summary["totals"]
    assert totals["delivered"] == delivered
    assert totals["bounced"] == sum(g["bounced"] for g in summary["groups"])
    assert {"domain", "vmta", "deferred", "complaints"} <= set(summary["groups"][0])
    assert summary["events"] == 400
    assert empty["groups"] == []
    assert empty["totals"]["delivered"] == 0

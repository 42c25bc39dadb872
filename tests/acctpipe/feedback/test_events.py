"""The feedback loop reads new events in commit order, skips its own refusals, keeps progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acctpipe.eventstore import Store
from acctpipe.feedback.events import history, load_progress, new_events, save_progress
from acctpipe.ingest.loader import Loader

HEADER = "type,timeLogged,orig,rcpt,dsnStatus,dsnDiag,bounceCat,vmta,queue,jobId\r\n"


def _write(path: Path, rows: list[str]) -> None:
    new = not path.exists()
    with path.open("a", encoding="utf-8", newline="") as f:
        f.write((HEADER if new else "") + "".join(r + "\r\n" for r in rows))


@pytest.mark.slow
def test_new_events_in_order_without_our_own_suppression_rows(tmp_path: Path) -> None:
    """Rows come back once, in commit order, classified; acctpipe;suppressed rows are skipped."""
    acct = tmp_path / "acct.csv"
    t = "2026-11-25 10:00:00+0000"
    _write(acct, [
        f"d,{t},n@s.test,ann@example.com,2.0.0,smtp;250 ok,,v1,example.com,j1",
        f"b,{t},n@s.test,bob@example.com,5.1.1,smtp;550 5.1.1 user unknown,,v1,example.com,j1",
        f"b,{t},n@s.test,cy@example.com,5.7.1,acctpipe;suppressed (hard-bounce),,v1,,j1",
        f"f,{t},n@s.test,dee@example.com,,,,v1,,j1",
    ])  # fmt: skip
    store = Store.open(tmp_path / "db.duckdb")
    try:
        Loader(store).load(acct)
        events, last = new_events(store.conn, load_progress(store.conn, "policy") or -1)
        assert [(e.type, e.rcpt, e.cls) for e in events] == [
            ("d", "ann@example.com", ""),
            ("b", "bob@example.com", "hard"),
            ("f", "dee@example.com", "complaint"),
        ]
        assert events[1].queue == "example.com"
        assert events[2].queue == "example.com"  # the recipient's domain when no queue
        assert events[0].event_id.endswith(":" + str(len(HEADER)))
        save_progress(store.conn, "policy", last)
        _write(acct, [f"d,{t},n@s.test,eve@example.com,2.0.0,smtp;250 ok,,v1,,j1"])
        Loader(store).load(acct)
        more, _ = new_events(store.conn, load_progress(store.conn, "policy") or -1)
        assert [e.rcpt for e in more] == ["eve@example.com"]
        since = datetime(2026, 11, 25, tzinfo=UTC) - timedelta(days=1)
        found = history(store.conn, ["bob@example.com", "cy@example.com"], since)
        assert [e.type for e in found["bob@example.com"]] == ["b"]
        assert found["cy@example.com"] == []
    finally:
        store.close()

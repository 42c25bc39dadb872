"""Each ingested failure records whose fault it is: recipient, our sender, our host, path."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from acctpipe.eventstore import MIGRATIONS, Store
from acctpipe.feedback.events import new_events
from acctpipe.ingest import Loader
from tests.acctpipe._acct import ENCODER, header, record

pytestmark = pytest.mark.slow  # every test here takes over a second


def _bounce(n: int, diag: str) -> bytes:
    fields = record(n) | {"type": "b", "dsnDiag": diag, "dsnStatus": "", "bounceCat": ""}
    return ENCODER.encode(fields)


def test_events_record_whose_fault_each_failure_is(tmp_path: Path) -> None:
    """A refused sender, a refused HELO, a timeout and an unknown user get four faults.

    The feedback loop reads the same fault with each event.
    """
    data = header() + b"".join(
        _bounce(n, diag)
        for n, diag in enumerate(
            [
                "smtp;550 5.1.7 <news@example.com>: From: domain is invalid",
                "smtp;550 my name was rejected",
                "smtp;451 4.4.1 Connection timed out",
                "smtp;550 5.1.1 <u3@example.net>: Recipient address rejected: User unknown",
            ]
        )
    )
    path = tmp_path / "acct.csv"
    path.write_bytes(data)
    store = Store.open(tmp_path / "db.duckdb")
    Loader(store).load(path)
    _, found = store.query("SELECT bounce_class, fault FROM events ORDER BY source_offset")
    events, _ = new_events(store.conn, -1)
    store.close()
    assert [e.fault for e in events] == ["sender", "our-host", "network", "recipient"]
    assert found == [
        ("spam", "sender"),
        ("spam", "our-host"),
        ("soft", "network"),
        ("hard", "recipient"),
    ]


def test_a_version_3_database_gains_the_fault_column(tmp_path: Path) -> None:
    """Opening a database made before fault existed adds the column; old rows keep NULL."""
    db = tmp_path / "db.duckdb"
    conn = duckdb.connect(str(db))
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    for version, statements in enumerate(MIGRATIONS[:3], start=1):
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, now())", [version])
    conn.execute(
        "INSERT INTO events (type, rcpt, file_id, source_file, source_offset)"
        " VALUES ('b', 'old@example.net', 0, 'old.csv', 0)"
    )
    conn.close()
    store = Store.open(db)
    _, found = store.query("SELECT rcpt, fault FROM events")
    _, versions = store.query("SELECT max(version) FROM schema_version")
    store.close()
    assert found == [("old@example.net", None)]
    assert versions == [(4,)]

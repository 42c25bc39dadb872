"""An events database built the real way: accounting CSV → Loader → DuckDB file.

The records are :mod:`acctpipe.synth`'s realistic mix, spread over the ~11 days
before :data:`NOW`, plus the record types it does not write (``rb``, ``tq``,
``rs``) and one malformed line for the quarantine. :func:`raw_events` and
:func:`stats` are the oracle: the same counts computed in Python from the rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader
from acctpipe.synth import synthetic_records
from mta.acct import DEFAULT_HEADER, AccountingWriter

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SYNTHETIC = 1200
STEP = timedelta(minutes=13)


def records() -> list[dict[str, object]]:
    """Every record written, oldest last (synthetic ones first)."""
    out: list[dict[str, object]] = []
    for i, record in enumerate(synthetic_records(SYNTHETIC, seed=7)):
        at = NOW - STEP * i - timedelta(seconds=30)
        out.append({**record, "timeLogged": at, "timeQueued": at - timedelta(minutes=5)})
    extra = (
        ("rb", "gone@gmail.com", "smtp;550 5.1.1 user unknown", "5.1.1", "failed"),
        ("tq", "q@yahoo.com", "smtp;421 4.7.0 try again later", "4.7.0", "delayed"),
        ("rs", "s@gmail.com", "smtp;250 2.0.0 ok", "2.0.0", "relayed"),
    )
    for n, (kind, rcpt, diag, status, action) in enumerate(extra):
        out.append(
            {
                "type": kind,
                "timeLogged": NOW - timedelta(minutes=20 + n),
                "rcpt": rcpt,
                "dsnAction": action,
                "dsnStatus": status,
                "dsnDiag": diag,
                "vmta": "vmta-a",
                "queue": f"{rcpt.partition('@')[2]}/vmta-a",
            }
        )
    return out


def build(directory: Path) -> Path:
    """Write the accounting file, ingest it, close the store; return the DuckDB path."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "acct-2026-11-25.csv"
    rows = records()
    with csv_path.open("wb") as stream:
        writer = AccountingWriter(stream, DEFAULT_HEADER)
        for record in rows[:600]:
            writer.write(record)
        stream.write(b"d,not-a-record\r\n")
        for record in rows[600:]:
            writer.write(record)
    db = directory / "events.duckdb"
    store = Store.open(db)
    try:
        Loader(store).load(csv_path)
    finally:
        store.close()
    return db


@dataclass(frozen=True, slots=True)
class Row:
    """One stored event, as the oracle sees it."""

    type: str
    domain: str | None
    vmta: str | None
    cls: str | None
    at: datetime
    diag: str | None
    status: str | None
    category: str | None


def raw_events(db: Path | duckdb.DuckDBPyConnection) -> list[Row]:
    """Every event row of the database (read-only when given a path)."""
    query = (
        "SELECT type, rcpt_domain, vmta, bounce_class, time_logged, dsn_diag, dsn_status,"
        " bounce_category FROM events"
    )
    if isinstance(db, Path):
        with duckdb.connect(str(db), read_only=True) as conn:
            found = conn.execute(query).fetchall()
    else:
        found = db.execute(query).fetchall()
    return [Row(*r) for r in found]


def stats(rows: Iterable[Row]) -> dict[str, Any]:
    """The report columns (attempted … complaint_rate) computed in Python."""
    items = list(rows)

    def count(kinds: tuple[str, ...], cls: str | None = None) -> int:
        return sum(1 for r in items if r.type in kinds and (cls is None or r.cls == cls))

    attempted, delivered, complaints = count(("d", "b")), count(("d",)), count(("f",))
    bounced = {cls: count(("b", "rb"), cls) for cls in (None, "hard", "soft", "spam")}

    def per_attempt(n: int) -> float | None:
        return n / attempted if attempted else None

    return {
        "attempted": attempted,
        "delivered": delivered,
        "bounced": bounced[None],
        "hard_bounces": bounced["hard"],
        "soft_bounces": bounced["soft"],
        "spam_blocks": bounced["spam"],
        "deferrals": count(("t", "tq")),
        "complaints": complaints,
        "delivery_rate": per_attempt(delivered),
        # (b + rb) / (d + b): a remote bounce counts against the messages attempted.
        "bounce_rate": per_attempt(bounced[None]),
        "hard_bounce_rate": per_attempt(bounced["hard"]),
        "soft_bounce_rate": per_attempt(bounced["soft"]),
        "spam_block_rate": per_attempt(bounced["spam"]),
        "complaint_rate": complaints / delivered if delivered else None,
    }


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()

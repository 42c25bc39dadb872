"""A real DuckDB event store for API tests: synthetic accounting rows, ingested, dated now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader
from acctpipe.synth import synthetic_records
from mta.acct import DEFAULT_HEADER, AccountingWriter


def write_accounting(path: Path, rows: int, *, seed: int = 7, now: datetime | None = None) -> Path:
    """Write ``rows`` synthetic records logged within the last hour before ``now``."""
    when = now or datetime.now(UTC)
    with path.open("wb") as stream:
        writer = AccountingWriter(stream, DEFAULT_HEADER)
        for i, record in enumerate(synthetic_records(rows, seed)):
            logged = when - timedelta(seconds=(rows - i) * 3600 / rows)
            record["timeLogged"] = logged
            record["timeQueued"] = logged - timedelta(seconds=30)
            writer.write(record)
    return path


def events_file(path: Path, rows: int = 300, *, seed: int = 7) -> Path:
    """A DuckDB file at ``path`` holding ``rows`` ingested events of the last hour."""
    csv = write_accounting(path.with_suffix(".csv"), rows, seed=seed)
    store = Store.open(path)
    try:
        Loader(store).load(csv)
    finally:
        store.close()
    return path

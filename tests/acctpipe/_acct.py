"""Accounting bytes with a known identity per row (``rcpt`` = ``u<N>@<domain>``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader
from mta.acct import DEFAULT_HEADER, AccountingEncoder, AccountingWriter

ENCODER = AccountingEncoder(DEFAULT_HEADER)
_T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
_KINDS = (
    ("d", "smtp;250 2.0.0 OK"),
    ("b", "smtp;550 5.1.1 The email account that you tried to reach does not exist"),
    ("t", "smtp;452 4.2.2 Mailbox full, try again later"),
    ("b", 'smtp;554 5.7.1 blocked, "spam"\nsee https://example.net/why'),
)


def record(n: int, domain: str = "Example.NET") -> dict[str, object]:
    """Record number ``n``: its rcpt is ``u<n>@<domain>``; types cycle d/b/t/b."""
    kind, diag = _KINDS[n % len(_KINDS)]
    return {
        "type": kind,
        "timeLogged": _T0 + timedelta(seconds=n),
        "timeQueued": _T0,
        "orig": "news@example.com",
        "rcpt": f"u{n}@{domain}",
        "dsnStatus": diag[9:14],
        "dsnDiag": diag,
        "bounceCat": "bad-mailbox" if kind == "b" else "",
        "vmta": "vmta-a",
        "dlvSize": 1234,
    }


def rows(start: int, stop: int) -> bytes:
    """The encoded records ``start`` … ``stop - 1``."""
    return b"".join(ENCODER.encode(record(n)) for n in range(start, stop))


def header() -> bytes:
    """The default header row."""
    return ENCODER.header()


def append(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (creating it)."""
    with path.open("ab") as stream:
        stream.write(data)


def rcpts(db: Path | Store) -> list[str]:
    """Every ingested rcpt, sorted (duplicates kept, so doubles show)."""
    store = db if isinstance(db, Store) else Store.open(db, read_only=True)
    try:
        _, found = store.query("SELECT rcpt FROM events ORDER BY rcpt")
    finally:
        if store is not db:
            store.close()
    return [r[0] for r in found]


def expected(*ranges: range) -> list[str]:
    """The sorted rcpts of the records in ``ranges``."""
    return sorted(f"u{n}@Example.NET" for r in ranges for n in r)


def ingested(directory: Path, records: Iterable[Mapping[str, object]]) -> Store:
    """A DuckDB event store in ``directory`` holding ``records``, written to an accounting
    file and ingested by the loader as a tailer would (the caller closes it)."""
    acct = directory / "acct-today.csv"
    with acct.open("wb") as stream:
        writer = AccountingWriter(stream, DEFAULT_HEADER)
        for one in records:
            writer.write(dict(one))
    store = Store.open(directory / "events.duckdb")
    try:
        Loader(store).load(acct)
    except BaseException:
        store.close()
        raise
    return store

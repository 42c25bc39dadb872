"""Reading the suppression list in bulk: the export and the change feed, beside their ceilings.

On a store of N suppressions and N changes (generated here and written straight
into the tables, or an existing store given with ``--database-url`` and
``--keep``), side by side in one run:

* **export, CLI**: ``acctpipe suppress export -o FILE`` as a new process (start-up
  included); the careful path it replaced (``csv_line(export_row(s))`` for every
  ``s`` of ``iter_all``, in-process); and the database's own bulk read of the same
  columns (SQLite: a plain ``SELECT`` read by ``sqlite3``; PostgreSQL: ``COPY
  (SELECT …) TO STDOUT``). The CLI's file must equal the careful one.
* **export, API**: ``GET /v1/suppressions/export.csv`` streamed by httpx from the
  API server (:mod:`benchmarks._api_server`).
* **feed, in-process**: ``SuppressionStore.changes_since(cursor, 10000)`` from 0 to
  the end, and the ORM read it replaced;
* **feed, API**: one httpx client paging ``GET /v1/suppressions/changes?limit=10000``.

Rates are rows (or changes) per second of wall time. The machine is shared:
run it when the other work is quiet, or compare the columns of one run.

    .venv/bin/python -m benchmarks._suppression_read --rows 1000000
    .venv/bin/python -m benchmarks._suppression_read --rows 1000000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench_read
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from acctpipe.api import ApiKeyStore
from acctpipe.sqlstore import make_engine, migrate
from acctpipe.sqlstore.suppressions import SuppressionStore, export_row
from acctpipe.sqlstore.suppressions.csvio import EXPORT_COLUMNS, csv_line
from acctpipe.sqlstore.suppressions.store import lookup_key, scope_kind
from benchmarks.api import start_server, stop_server

_ROOT = Path(__file__).resolve().parent.parent
_REASONS = ("hard-bounce", "complaint", "manual", "unsubscribe")
_COLUMNS = "address, scope, reason, detail, created_at, updated_at, expires_at"
_SELECT = (
    "SELECT address, scope, reason, detail, created_at, updated_at, expires_at "
    "FROM suppressions ORDER BY address, scope"
)
Row = tuple[str, str, str, str, datetime, datetime, datetime | None]


def _rows(n: int) -> Iterator[Row]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(n):
        at = base + timedelta(seconds=i, microseconds=(i * 7919) % 1_000_000 if i % 3 else 0)
        yield (
            f"user{i:09d}@example{i % 97}.com",
            "global" if i % 10 else f"list:news{i % 7}",
            _REASONS[i % 4],
            "550 5.1.1 user unknown, mailbox gone" if i % 2 else "",
            at,
            at,
            at + timedelta(days=30) if i % 5 == 0 else None,
        )


def _fill(url: str, n: int) -> None:
    """N suppressions, their N ``add`` changes and the kept counts, by the database's bulk
    path (the import is not what is measured here)."""
    migrate(url)
    engine = make_engine(url)
    counts: dict[tuple[str, str], int] = {}
    raw: Any = engine.raw_connection()
    cursor = raw.cursor()
    try:
        for row in _rows(n):
            slot = (row[2], scope_kind(row[1]))
            counts[slot] = counts.get(slot, 0) + 1
        if engine.dialect.name == "sqlite":
            _fill_sqlite(cursor, n)
            cursor.executemany(
                "INSERT INTO suppression_counts VALUES (?, ?, ?)",
                [(*k, v) for k, v in counts.items()],
            )
        else:
            _fill_postgres(cursor, n)
            cursor.executemany(
                "INSERT INTO suppression_counts VALUES (%s, %s, %s)",
                [(*k, v) for k, v in counts.items()],
            )
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def _text(t: datetime | None) -> str | None:
    return None if t is None else t.replace(tzinfo=None).isoformat(" ", "microseconds")


def _fill_sqlite(cursor: Any, n: int) -> None:
    cursor.execute("BEGIN")
    cursor.executemany(
        "INSERT INTO suppressions (address, scope, reason, detail, created_at, updated_at, "
        "expires_at, event_ids, lookup_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, '[\"evt-1\"]', ?)",
        (
            (a, s, r, d, _text(c), _text(u), _text(e), lookup_key(s, a))
            for a, s, r, d, c, u, e in _rows(n)
        ),
    )
    cursor.executemany(
        "INSERT INTO suppression_changes (op, address, scope, reason, detail, expires_at, "
        "event_ids, notify, changed_at, lookup_key) "
        "VALUES ('add', ?, ?, ?, ?, ?, '[\"evt-1\"]', 0, ?, ?)",
        ((a, s, r, d, _text(e), _text(c), lookup_key(s, a)) for a, s, r, d, c, _, e in _rows(n)),
    )


def _fill_postgres(cursor: Any, n: int) -> None:
    with cursor.copy(f"COPY suppressions ({_COLUMNS}, event_ids, lookup_key) FROM STDIN") as copy:
        for a, s, r, d, c, u, e in _rows(n):
            copy.write_row((a, s, r, d, c, u, e, '["evt-1"]', lookup_key(s, a)))
    with cursor.copy(
        "COPY suppression_changes (op, address, scope, reason, detail, expires_at, event_ids, "
        "notify, changed_at, lookup_key) FROM STDIN"
    ) as copy:
        for a, s, r, d, c, _, e in _rows(n):
            copy.write_row(("add", a, s, r, d, e, '["evt-1"]', False, c, lookup_key(s, a)))


def _timed(label: str, n: int, run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    print(f"{label:<52} {n:>10,} in {seconds:7.2f} s = {n / seconds:>10,.0f}/s", flush=True)
    return seconds


def _ceiling(url: str) -> None:
    engine = make_engine(url)
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute(_SELECT)
            while cursor.fetchmany(20_000):
                pass
        else:
            with cursor.copy(f"COPY ({_SELECT}) TO STDOUT") as copy:
                for _ in copy:
                    pass
    finally:
        raw.close()
        engine.dispose()


def _careful_export(store: SuppressionStore, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(csv_line(EXPORT_COLUMNS))
        for s in store.iter_all(10_000):
            out.write(csv_line(export_row(s)))


def _orm_feed(store: SuppressionStore) -> None:
    cursor = 0
    while page := store._changes_orm(cursor, 10_000):
        cursor = page[-1].cursor


def _feed(store: SuppressionStore) -> None:
    cursor = 0
    while page := store.changes_since(cursor, 10_000):
        cursor = page[-1].cursor


def _http_feed(base: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        cursor = 0
        while True:
            page = client.get(
                "/v1/suppressions/changes", params={"cursor": cursor, "limit": 10_000}
            )
            page.raise_for_status()
            body = page.json()
            if not body["changes"]:
                return
            cursor = body["next_cursor"]


def _http_export(base: str, key: str, path: Path) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=base, headers=headers, timeout=120) as client,
        path.open("wb") as out,
        client.stream("GET", "/v1/suppressions/export.csv") as answer,
    ):
        answer.raise_for_status()
        for block in answer.iter_bytes():
            out.write(block)


def run(url: str, n: int, tmp: Path, *, careful: bool) -> None:
    """Every phase on the filled store at ``url``."""
    engine = make_engine(url)
    store = SuppressionStore(engine)
    key = ApiKeyStore(engine).create("bench", "read")[1]
    fast_file, careful_file, api_file = tmp / "fast.csv", tmp / "careful.csv", tmp / "api.csv"
    cli = str(Path(sys.executable).with_name("acctpipe"))
    command = [cli, "suppress", "export", "-o", str(fast_file)]
    command += ["--database-url", url]
    _timed("export: database bulk read (ceiling)", n, lambda: _ceiling(url))
    _timed(
        "export: acctpipe suppress export (new process)",
        n,
        lambda: subprocess.run(command, check=True, cwd=_ROOT, capture_output=True),
    )
    if careful:
        _timed(
            "export: iter_all + csv_line (the careful path)",
            n,
            lambda: _careful_export(store, careful_file),
        )
        print(
            "export: CLI file equals the careful one:",
            fast_file.read_bytes() == careful_file.read_bytes(),
        )
    _timed("feed: changes_since, in-process, limit 10000", n, lambda: _feed(store))
    if careful:
        _timed("feed: ORM read, in-process (the careful path)", n, lambda: _orm_feed(store))
    server, port = start_server(url, tmp, None)
    try:
        base = f"http://127.0.0.1:{port}"
        _timed(
            "export: GET /v1/suppressions/export.csv", n, lambda: _http_export(base, key, api_file)
        )
        print(
            "export: API body equals the CLI file:", api_file.read_bytes() == fast_file.read_bytes()
        )
        _timed("feed: GET /v1/suppressions/changes?limit=10000", n, lambda: _http_feed(base, key))
    finally:
        stop_server(server)
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, fill a store, run every phase."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks._suppression_read", description=__doc__
    )
    parser.add_argument("--rows", type=int, default=200_000, help="suppressions (and changes)")
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    parser.add_argument("--keep", action="store_true", help="the store is already filled")
    parser.add_argument("--no-careful", action="store_true", help="skip the slow careful paths")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-read-") as name:
        tmp = Path(name)
        url = args.database_url or f"sqlite:///{tmp / 'store.sqlite'}"
        if not args.keep:
            _timed("fill (database bulk path)", args.rows, lambda: _fill(url, args.rows))
        run(url, args.rows, tmp, careful=not args.no_careful)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

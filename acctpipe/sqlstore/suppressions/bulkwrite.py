"""The set-based write of many add decisions: an import's or a bulk request's batch.

:meth:`SuppressionStore.apply` merges each decision in Python (``_merge.merge``)
and writes row by row. For a batch of plain adds (no event ids: imports and the
bulk API) :func:`write_adds` computes the same merge in SQL instead, so a batch of
50,000 rows costs a handful of statements:

1. the rows go into a temporary staging table ``_imp`` (PostgreSQL: ``COPY``;
   SQLite: one ``executemany``), each with its place in the batch (``seq``) and
   its occurrence number among the rows of the same (address, scope) (``occ``);
2. pass ``p`` = 1, 2, … takes the rows with ``occ = p`` (so each pass holds one row
   per pair), joins them to ``suppressions`` and keeps those that change it by the
   rules of :func:`~acctpipe.sqlstore.suppressions._merge.merge`: an **add** when the
   pair holds nothing; an **update** when the row lasts longer (a later
   ``expires_at``; NULL is for good) or as long with a weightier reason
   (``REASON_RANK``), which takes the row's reason and expiry, its detail (or the
   old one when it has none), keeps ``created_at`` and the event ids, and sets
   ``updated_at`` to the later of the old one and the row's time. The kept rows go
   to ``_chg`` and are upserted into ``suppressions``; the next pass then sees them,
   as the careful path's next decision sees the state the previous one left;
3. ``_chg`` goes into ``suppression_changes`` ordered by ``seq`` (the cursors follow
   the batch's order, as the careful path's do), and ``suppression_counts`` moves by
   ``_chg`` grouped by (reason, scope kind).

Rows that change nothing write nothing: a re-import costs the staging and one join.
The caller holds the store's write lock (:func:`~acctpipe.sqlstore.write_transaction`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final, overload

from sqlalchemy.engine import Connection

from acctpipe.sqlstore.suppressions._merge import REASON_RANK
from acctpipe.sqlstore.suppressions.model import Change

__all__ = ["AddRow", "LoggedChanges", "write_adds"]

# (address, scope, reason, detail, decided_at, expires_at, notify), address and scope
# normalised: one add decision without event ids.
AddRow = tuple[str, str, str, str, datetime, datetime | None, bool]

_RANK: Final = "CASE s.reason " + " ".join(f"WHEN '{r}' THEN {n}" for r, n in REASON_RANK.items())
_RANK_END: Final = " ELSE 0 END"


def _ddl(ts: str, suffix: str) -> tuple[str, str]:
    imp = (
        "CREATE TEMP TABLE IF NOT EXISTS _imp (seq INTEGER, occ INTEGER, address TEXT, "
        f"scope TEXT, kind TEXT, reason TEXT, rnk INTEGER, detail TEXT, decided_at {ts}, "
        f"expires_at {ts}, lookup_key BIGINT, notify BOOLEAN){suffix}"
    )
    chg = (
        "CREATE TEMP TABLE IF NOT EXISTS _chg (seq INTEGER, occ INTEGER, op TEXT, address TEXT, "
        "scope TEXT, kind TEXT, reason TEXT, old_reason TEXT, detail TEXT, created_at "
        f"{ts}, updated_at {ts}, expires_at {ts}, lookup_key BIGINT, notify BOOLEAN){suffix}"
    )
    return imp, chg


_PASS: Final = (
    "INSERT INTO _chg SELECT i.seq, i.occ, "
    "CASE WHEN s.address IS NULL THEN 'add' ELSE 'update' END, i.address, i.scope, i.kind, "
    "i.reason, s.reason, "
    "CASE WHEN s.address IS NULL OR i.detail <> '' THEN i.detail ELSE s.detail END, "
    "i.decided_at, CASE WHEN s.address IS NULL THEN i.decided_at "
    "ELSE {greatest}(s.updated_at, i.decided_at) END, i.expires_at, i.lookup_key, i.notify "
    "FROM _imp i LEFT JOIN suppressions s ON s.address = i.address AND s.scope = i.scope "
    "WHERE i.occ = {p} AND (s.address IS NULL "
    "OR (i.expires_at IS NULL AND s.expires_at IS NOT NULL) "
    "OR i.expires_at > s.expires_at "
    "OR (((i.expires_at IS NULL AND s.expires_at IS NULL) OR i.expires_at = s.expires_at) "
    f"AND i.rnk > {_RANK}{_RANK_END}))"
)
_UPSERT: Final = (
    "INSERT INTO suppressions (address, scope, reason, detail, event_ids, created_at, "
    "updated_at, expires_at, lookup_key) "
    "SELECT address, scope, reason, detail, {empty}, created_at, updated_at, expires_at, "
    "lookup_key FROM _chg WHERE occ = {p} "
    "ON CONFLICT (address, scope) DO UPDATE SET reason = excluded.reason, "
    "detail = excluded.detail, updated_at = excluded.updated_at, "
    "expires_at = excluded.expires_at, lookup_key = excluded.lookup_key"
)
_LOG: Final = (
    "INSERT INTO suppression_changes (op, address, scope, reason, detail, expires_at, "
    "event_ids, notify, changed_at, lookup_key) "
    "SELECT op, address, scope, reason, detail, expires_at, {empty}, notify, {at}, lookup_key "
    "FROM _chg ORDER BY seq"
)
_TALLY: Final = (
    "SELECT op, kind, reason, old_reason, count(*) FROM _chg GROUP BY op, kind, reason, old_reason"
)


def sqlite_time(when: datetime) -> str:
    """``when`` as SQLAlchemy stores a timestamp in SQLite (UTC, naive ISO, microseconds)."""
    u = when.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d} "
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}"
    )


def _kind(scope: str) -> str:
    return scope.partition(":")[0] if ":" in scope else "global"


def _staged(rows: Sequence[AddRow], key: Callable[[str, str], int]) -> tuple[list[Any], int]:
    """The staging tuples (without time conversion) and the highest occurrence number."""
    seen: dict[tuple[str, str], int] = {}
    out: list[Any] = []
    top = 1
    rank = REASON_RANK
    for seq, (address, scope, reason, detail, decided, expires, notify) in enumerate(rows):
        occ = 1
        pair = (address, scope)
        if pair in seen:
            occ = seen[pair] + 1
            top = max(top, occ)
        seen[pair] = occ
        out.append(
            [
                seq,
                occ,
                address,
                scope,
                _kind(scope),
                reason,
                rank[reason],  # type: ignore[index]  # a SuppressionReason, checked upstream
                detail,
                decided,
                expires,
                key(scope, address),
                notify,
            ]
        )
    return out, top


def _stage_sqlite(raw: Any, staged: list[Any]) -> None:
    times: dict[datetime, str] = {}  # an import dates most rows alike: format each once
    for row in staged:
        for i in (8, 9):
            when = row[i]
            if when is not None:
                text = times.get(when)
                if text is None:
                    text = times[when] = sqlite_time(when)
                row[i] = text
    cur = raw.cursor()
    try:
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB for this connection's page cache
        cur.executemany("INSERT INTO _imp VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", staged)
    finally:
        cur.close()


def _stage_postgres(raw: Any, staged: list[Any]) -> None:
    with raw.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '64MB'")
        with cur.copy("COPY _imp FROM STDIN") as copy:
            for row in staged:
                copy.write_row(row)


def write_adds(
    conn: Connection,
    rows: Sequence[AddRow],
    changed_at: datetime,
    key: Callable[[str, str], int],
) -> tuple[int, int, int, dict[tuple[str, str], int]]:
    """Apply ``rows`` (add decisions, in order) through ``conn`` as described above.

    ``key`` is the store's ``lookup_key``. Returns (added, updated, the highest cursor
    before this batch's changes, the count deltas by (reason, scope kind)); the caller
    applies the deltas (:func:`~acctpipe.sqlstore.suppressions.store.add_counts`).
    """
    sqlite = conn.dialect.name == "sqlite"
    raw = conn.connection.driver_connection
    imp, chg = _ddl("TEXT", "") if sqlite else _ddl("TIMESTAMPTZ", " ON COMMIT DELETE ROWS")
    for ddl in (imp, chg, "DELETE FROM _imp", "DELETE FROM _chg"):
        conn.exec_driver_sql(ddl)
    staged, passes = _staged(rows, key)
    (_stage_sqlite if sqlite else _stage_postgres)(raw, staged)
    del staged
    greatest = "max" if sqlite else "GREATEST"
    empty = "'[]'" if sqlite else "'[]'::jsonb"
    for p in range(1, passes + 1):
        conn.exec_driver_sql(_PASS.format(greatest=greatest, p=p))
        conn.exec_driver_sql(_UPSERT.format(empty=empty, p=p))
    before = conn.exec_driver_sql('SELECT max("cursor") FROM suppression_changes').scalar()
    at: Any = sqlite_time(changed_at) if sqlite else changed_at
    marker = "?" if sqlite else "%s"
    conn.exec_driver_sql(_LOG.format(empty=empty, at=marker), (at,))
    added = updated = 0
    deltas: dict[tuple[str, str], int] = {}
    for op, kind, reason, old, n in conn.exec_driver_sql(_TALLY):
        if op == "add":
            added += n
        else:
            updated += n
            if old == reason:
                continue
            deltas[(old, kind)] = deltas.get((old, kind), 0) - n
        deltas[(reason, kind)] = deltas.get((reason, kind), 0) + n
    return added, updated, int(before or 0), deltas


class LoggedChanges(Sequence[Change]):
    """The changes a fast-path batch logged, read back only if someone looks at them.

    A change hook that has no listener (no webhook subscription wants suppression
    events) returns without touching it, and the batch never builds a Change.
    """

    def __init__(self, load: Callable[[], list[Change]]) -> None:
        self._load = load
        self._items: list[Change] | None = None

    def _all(self) -> list[Change]:
        if self._items is None:
            self._items = self._load()
        return self._items

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> Change: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Change]: ...
    def __getitem__(self, index: int | slice) -> Change | Sequence[Change]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Change]:
        return iter(self._all())

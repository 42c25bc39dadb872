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
from hashlib import blake2b
from operator import itemgetter
from typing import Any, Final, overload

from sqlalchemy.engine import Connection

from acctpipe.sqlstore.suppressions._merge import REASON_RANK
from acctpipe.sqlstore.suppressions.model import Change
from mta.suppression import scope_hash, signed_key

__all__ = ["AddRow", "LoggedChanges", "write_adds"]

# (address, scope, reason, detail, decided_at, expires_at, notify), address and scope
# normalised: one add decision without event ids.
AddRow = tuple[str, str, str, str, datetime, datetime | None, bool]


def _rank(alias: str) -> str:
    """The SQL of ``REASON_RANK`` of ``alias``.reason."""
    cases = " ".join(f"WHEN '{r}' THEN {n}" for r, n in REASON_RANK.items())
    return f"CASE {alias}.reason {cases} ELSE 0 END"


def _ddl(ts: str, suffix: str) -> tuple[str, str]:
    imp = (
        "CREATE TEMP TABLE IF NOT EXISTS _imp (seq INTEGER, occ INTEGER, "
        f"address TEXT, scope TEXT, reason TEXT, detail TEXT, decided_at {ts}, "
        f"expires_at {ts}, lookup_key BIGINT, notify BOOLEAN){suffix}"
    )
    chg = (
        "CREATE TEMP TABLE IF NOT EXISTS _chg (seq INTEGER, occ INTEGER, op TEXT, address TEXT, "
        "scope TEXT, kind TEXT, reason TEXT, old_reason TEXT, detail TEXT, created_at "
        f"{ts}, updated_at {ts}, expires_at {ts}, lookup_key BIGINT, notify BOOLEAN){suffix}"
    )
    return imp, chg


# The scope kind of a normalised scope (global, domain:…, list:…), as store.scope_kind.
_KIND: Final = (
    "CASE WHEN substr(i.scope, 1, 7) = 'domain:' THEN 'domain' "
    "WHEN substr(i.scope, 1, 5) = 'list:' THEN 'list' ELSE 'global' END"
)
_PASS: Final = (
    "INSERT INTO _chg SELECT i.seq, i.occ, "  # noqa: S608 - our constants, no input
    "CASE WHEN s.address IS NULL THEN 'add' ELSE 'update' END, i.address, i.scope, "
    f"{_KIND}, i.reason, s.reason, "
    "CASE WHEN s.address IS NULL OR i.detail <> '' THEN i.detail ELSE s.detail END, "
    "i.decided_at, CASE WHEN s.address IS NULL THEN i.decided_at "
    "ELSE {greatest}(s.updated_at, i.decided_at) END, i.expires_at, i.lookup_key, i.notify "
    "FROM _imp i LEFT JOIN suppressions s ON s.address = i.address AND s.scope = i.scope "
    "WHERE i.occ = {p} AND (s.address IS NULL "
    "OR (i.expires_at IS NULL AND s.expires_at IS NOT NULL) "
    "OR i.expires_at > s.expires_at "
    "OR (((i.expires_at IS NULL AND s.expires_at IS NULL) OR i.expires_at = s.expires_at) "
    f"AND {_rank('i')} > {_rank('s')}))"
)
_COLUMNS: Final = (
    "INSERT INTO suppressions (address, scope, reason, detail, event_ids, created_at, "
    "updated_at, expires_at, lookup_key) "
    "SELECT address, scope, reason, detail, {empty}, created_at, updated_at, expires_at, "
    "lookup_key FROM _chg WHERE occ = {p}"
)
# SQLite: one upsert. PostgreSQL: a plain INSERT of the adds (an upsert's speculative
# insertion cost a third more there) and an UPDATE of the rest.
_UPSERT: Final = (
    f"{_COLUMNS} ON CONFLICT (address, scope) DO UPDATE SET reason = excluded.reason, "
    "detail = excluded.detail, updated_at = excluded.updated_at, "
    "expires_at = excluded.expires_at, lookup_key = excluded.lookup_key"
)
_INSERT: Final = f"{_COLUMNS} AND op = 'add'"
_UPDATE: Final = (
    "UPDATE suppressions s SET reason = c.reason, detail = c.detail, updated_at = c.updated_at, "
    "expires_at = c.expires_at, lookup_key = c.lookup_key FROM _chg c "
    "WHERE c.occ = {p} AND c.op = 'update' AND s.address = c.address AND s.scope = c.scope"
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


def _pg_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _copy_text(value: str) -> str:
    """``value`` as a field of PostgreSQL's COPY text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        value = value.replace("\r", "\\r")
    return value


class _Keys:
    """``lookup_key`` for many rows: the address hash inline, each scope's hash once."""

    def __init__(self) -> None:
        self._scopes: dict[str, int] = {}

    def __call__(self, scope: str, address: str) -> int:
        digest = blake2b(address.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        if scope == "global":
            return int.from_bytes(digest, "big", signed=True)
        mask = self._scopes.get(scope)
        if mask is None:
            mask = self._scopes[scope] = scope_hash(scope)
        return signed_key(int.from_bytes(digest, "big") ^ mask)

    def many(self, scope: str, addresses: list[str]) -> list[int]:
        """The keys of ``addresses`` in ``scope``, in one loop without a call per address."""
        if scope != "global":
            return [self(scope, a) for a in addresses]
        return [
            int.from_bytes(
                blake2b(a.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for a in addresses
        ]


def _occurrences(rows: Sequence[AddRow]) -> tuple[list[int], int]:
    """Each row's occurrence number among the rows of its (address, scope), and the highest."""
    seen: dict[tuple[str, str], int] = {}
    occ: list[int] = []
    for row in rows:
        pair = (row[0], row[1])
        n = seen.get(pair, 0) + 1
        seen[pair] = n
        occ.append(n)
    return occ, max(seen.values(), default=1)


def _sorted(rows: Sequence[AddRow]) -> list[int]:
    """The places of ``rows`` in (address, scope) order: the order they are staged in.

    The staging table is scanned in the order it was written (no key of its own), so
    each pass probes and inserts into the list's indexes in key order: a batch then
    visits each index page once, however far the indexes outgrow the page cache.
    """
    order = list(range(len(rows)))
    if len(set(map(itemgetter(1), rows))) == 1:  # one scope: the address alone (str compares fast)
        order.sort(key=list(map(itemgetter(0), rows)).__getitem__)
    else:
        order.sort(key=list(map(itemgetter(0, 1), rows)).__getitem__)
    return order


def _uniform(rows: Sequence[AddRow]) -> tuple[Any, ...] | None:
    """The (scope, reason, detail, decided_at, expires_at, notify) every row shares, or None.

    A plain list's rows differ only in the address: such a batch stages the address and
    its key per row, and the rest once.
    """
    tail = rows[0][1:]
    return tail if all(row[1:] == tail for row in rows) else None


_SQLITE_CACHE: Final = -262_144  # KiB: 256 MiB of page cache while a batch is written
_STAGE_NARROW: Final = "INSERT INTO _imp (seq, occ, address, lookup_key) VALUES (?,?,?,?)"
_STAGE_REST: Final = (
    "UPDATE _imp SET scope = ?, reason = ?, detail = ?, decided_at = ?, expires_at = ?, notify = ?"
)
_STAGE_WIDE: Final = (
    "INSERT INTO _imp (seq, occ, address, lookup_key, scope, reason, detail, decided_at, "
    "expires_at, notify) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def _stage_sqlite(raw: Any, rows: Sequence[AddRow], occ: list[int], order: list[int]) -> None:
    times: dict[datetime, str] = {}  # an import dates most rows alike: format each once

    def text(when: datetime | None) -> str | None:
        if when is None:
            return None
        found = times.get(when)
        if found is None:
            found = times[when] = sqlite_time(when)
        return found

    key = _Keys()
    tail = _uniform(rows)
    cur = raw.cursor()
    try:
        if tail is not None:
            addresses = [rows[seq][0] for seq in order]
            keys = key.many(tail[0], addresses)
            cur.executemany(
                _STAGE_NARROW,
                [(seq, occ[seq], a, k) for seq, a, k in zip(order, addresses, keys, strict=True)],
            )
            scope, reason, detail, at, exp, notify = tail
            cur.execute(_STAGE_REST, (scope, reason, detail, text(at), text(exp), notify))
            return
        cur.executemany(
            _STAGE_WIDE,
            [
                (seq, occ[seq], a, key(s, a), s, r, d, text(at), text(exp), notify)
                for seq, (a, s, r, d, at, exp, notify) in ((i, rows[i]) for i in order)
            ],
        )
    finally:
        cur.close()


def _stage_postgres(raw: Any, rows: Sequence[AddRow], occ: list[int], order: list[int]) -> None:
    times: dict[datetime, str] = {}

    def text(when: datetime | None) -> str:
        if when is None:
            return "\\N"
        found = times.get(when)
        if found is None:
            found = times[when] = _pg_time(when)
        return found

    def rest(s: str, r: str, d: str, at: datetime, exp: datetime | None, notify: bool) -> str:
        return f"{esc(s)}\t{r}\t{esc(d)}\t{text(at)}\t{text(exp)}\t{'t' if notify else 'f'}\n"

    key, esc = _Keys(), _copy_text
    tail = _uniform(rows)
    shared = None if tail is None else rest(*tail)
    copy_sql = (
        "COPY _imp (seq, occ, address, lookup_key, scope, reason, detail, decided_at, "
        "expires_at, notify) FROM STDIN"
    )
    with raw.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '64MB'")
        # A batch is joined to the list by index probes, however the planner's statistics
        # stand: a hash join would read all of a list of millions once per batch (it chose
        # one after an ANALYZE while the list's own statistics were stale).
        cur.execute("SET LOCAL enable_hashjoin = off")
        cur.execute("SET LOCAL enable_mergejoin = off")
        with cur.copy(copy_sql) as copy:
            for start in range(0, len(order), 5000):
                part = order[start : start + 5000]
                if tail is not None and shared is not None:
                    addresses = [rows[seq][0] for seq in part]
                    keys = key.many(tail[0], addresses)
                    copy.write(
                        "".join(
                            f"{seq}\t{occ[seq]}\t{esc(a)}\t{k}\t{shared}"
                            for seq, a, k in zip(part, addresses, keys, strict=True)
                        )
                    )
                    continue
                copy.write(
                    "".join(
                        f"{seq}\t{occ[seq]}\t{esc(row[0])}\t{key(row[1], row[0])}\t"
                        + rest(*row[1:])
                        for seq, row in ((i, rows[i]) for i in part)
                    )
                )


def write_adds(
    conn: Connection, rows: Sequence[AddRow], changed_at: datetime
) -> tuple[int, int, int, dict[tuple[str, str], int]]:
    """Apply ``rows`` (add decisions, in order) through ``conn`` as described above.

    Returns (added, updated, the highest cursor before this batch's changes, the count
    deltas by (reason, scope kind)); the caller applies the deltas
    (:func:`~acctpipe.sqlstore.suppressions.store.add_counts`).
    """
    if conn.dialect.name != "sqlite":
        return _write(conn, rows, changed_at)
    # A batch's pages stay in memory while it is written (the connection's default is 2 MiB).
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size={_SQLITE_CACHE}")
    try:
        return _write(conn, rows, changed_at)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache or -2000)}")


def _write(
    conn: Connection, rows: Sequence[AddRow], changed_at: datetime
) -> tuple[int, int, int, dict[tuple[str, str], int]]:
    sqlite = conn.dialect.name == "sqlite"
    raw = conn.connection.driver_connection
    imp, chg = _ddl("TEXT", "") if sqlite else _ddl("TIMESTAMPTZ", " ON COMMIT DELETE ROWS")
    for ddl in (imp, chg, "DELETE FROM _imp", "DELETE FROM _chg"):
        conn.exec_driver_sql(ddl)
    occ, passes = _occurrences(rows)
    (_stage_sqlite if sqlite else _stage_postgres)(raw, rows, occ, _sorted(rows))
    greatest = "max" if sqlite else "GREATEST"
    empty = "'[]'" if sqlite else "'[]'::jsonb"
    for p in range(1, passes + 1):
        conn.exec_driver_sql(_PASS.format(greatest=greatest, p=p))
        if sqlite:
            conn.exec_driver_sql(_UPSERT.format(empty=empty, p=p))
        else:
            conn.exec_driver_sql(_INSERT.format(empty=empty, p=p))
            conn.exec_driver_sql(_UPDATE.format(p=p))
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

"""The suppression list as stored keys: what a node's MTA set loads at start and follows.

Every row of ``suppressions`` and ``suppression_changes`` carries ``lookup_key``
(:func:`mta.suppression.suppression_key`, signed), so a node reads keys, reason
codes and expiry times straight into numpy arrays — no address is normalised or
hashed, and no Python object is made per row on PostgreSQL:

* **PostgreSQL**: the table is read in slices of pages (``ctid`` ranges, a TID
  range scan each), all in one ``REPEATABLE READ`` transaction (one snapshot);
  each slice comes back as one ``bytea`` of packed 18-byte records (key, code,
  expiry, big-endian) that numpy reads as a structured array. Each statement is
  short, so the store's statement timeout and client-side deadline still hold.
  Two connections share the work (the second imports the first's snapshot with
  ``SET TRANSACTION SNAPSHOT``), so the server packs slices on two cores.
  (``COPY ... TO STDOUT`` was measured and is slower here: the server sends one
  message per row, and reading 50 million of them costs minutes in Python.)
* **SQLite**: one ``SELECT`` on the engine's raw connection (one statement: one
  consistent read), fetched in large batches into structured arrays.

A row whose ``lookup_key`` is NULL (written by something other than the store)
gets its key computed here from its scope and address, with the store's key
function. Expired rows are left out; expiry times are epoch seconds (inf: never).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, text

from acctpipe.sqlstore.engine import SINGLE_STATEMENT, is_sqlite
from acctpipe.sqlstore.suppressions.model import TOMBSTONES
from mta.suppression import GONE, REASONS, reason_code, suppression_key

__all__ = ["KeyChange", "StoredKeys", "key_changes_since", "load_keys"]

_BIT64: Final = 1 << 64
_PAGES: Final = 8192  # pages per PostgreSQL slice (64 MiB of table, about 0.3 s)
_BATCH: Final = 100_000  # rows per SQLite fetch
_CODE: Final = (
    "CASE reason "
    + " ".join(f"WHEN '{r}' THEN {n}" for n, r in enumerate(REASONS))
    + f" ELSE {reason_code('manual')} END"
)
_PG_EXPIRY: Final = "date_part('epoch', expires_at)"  # float8 (extract() makes a numeric)
# SQLite keeps a UTC timestamp as text, 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds
# from strftime, the fraction from the text itself (julianday keeps only milliseconds).
_LITE_EXPIRY: Final = (
    "(CAST(strftime('%s', expires_at) AS REAL) + IFNULL(CAST(substr(expires_at, 20) AS REAL), 0))"
)
_SNAPSHOT_ID: Final = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)+")
_RECORD: Final = np.dtype([("key", ">u8"), ("code", ">i2"), ("expires", ">f8")])
_PG_SLICE: Final = f"""
SELECT string_agg(int8send(lookup_key) || int2send(({_CODE})::int2)
                  || float8send(COALESCE({_PG_EXPIRY}, 'Infinity'::float8)), ''::bytea)
           FILTER (WHERE lookup_key IS NOT NULL),
       count(*) FILTER (WHERE lookup_key IS NULL)
FROM suppressions WHERE {{where}}"""  # noqa: S608 - constant text, no input spliced
_PG_UNKEYED: Final = f"""
SELECT address, scope, {_CODE}, {_PG_EXPIRY} FROM suppressions
WHERE lookup_key IS NULL AND {{where}}"""  # noqa: S608 - constant text, no input spliced
_LITE_ALL: Final = f"""
SELECT IFNULL(lookup_key, 0), {_CODE}, IFNULL({_LITE_EXPIRY}, 9e999),
       CASE WHEN lookup_key IS NULL THEN address END, CASE WHEN lookup_key IS NULL THEN scope END,
       lookup_key IS NULL
FROM suppressions"""  # noqa: S608 - constant text, no input spliced
_CHANGES: Final = f"""
SELECT "cursor", op, lookup_key, {_CODE}, {{expiry}},
       CASE WHEN lookup_key IS NULL THEN address END, CASE WHEN lookup_key IS NULL THEN scope END
FROM suppression_changes WHERE "cursor" > :after ORDER BY "cursor" LIMIT :limit"""  # noqa: S608 - constant text; cursor and limit bound
_LITE_ROW: Final = np.dtype(
    [
        ("key", "<i8"),
        ("code", "u1"),
        ("expires", "<f8"),
        ("address", "O"),
        ("scope", "O"),
        ("unkeyed", "?"),
    ]
)


@dataclass
class StoredKeys:
    """The active suppressions as arrays: unsigned keys (in a few sorted runs), reason
    codes, and the expiring ones' keys and expiry times (epoch seconds)."""

    keys: npt.NDArray[np.uint64]
    codes: npt.NDArray[np.uint8]
    expiring: npt.NDArray[np.uint64]
    expires_at: npt.NDArray[np.float64]


class _Collector:
    """Slices of rows gathered into :class:`StoredKeys` (expired rows dropped)."""

    def __init__(self, now: float, key: Callable[[str], str]) -> None:
        self.now, self.key = now, key
        self.parts: list[tuple[Any, ...]] = []

    def add(self, keys: Any, codes: Any, expires: Any) -> None:
        live = expires > self.now
        ukeys = keys[live].astype(np.uint64)
        # Each slice sorted here, in the thread that read it (numpy lets go of the GIL):
        # the set then merges sorted runs instead of sorting the whole list.
        order = np.argsort(ukeys)
        ukeys, codes, expires = ukeys[order], codes[live][order], expires[live][order]
        finite = np.isfinite(expires)
        self.parts.append((ukeys, codes.astype(np.uint8), ukeys[finite], expires[finite]))

    def add_unkeyed(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows (address, scope, code, expiry or None) without a stored key."""
        keys, codes, expires = [], [], []
        for address, scope, code, expiry in rows:
            try:
                keys.append(suppression_key(scope, self.key(address)))
            except ValueError:
                continue  # no key can be made of it: it cannot match a recipient either
            codes.append(code)
            expires.append(np.inf if expiry is None else float(expiry))
        if keys:
            self.add(np.array(keys, np.uint64), np.array(codes), np.array(expires))

    def result(self) -> StoredKeys:
        if not self.parts:
            empty = np.zeros(0, np.uint64)
            return StoredKeys(empty, np.zeros(0, np.uint8), empty, np.zeros(0))
        columns = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        self.parts = []
        return StoredKeys(*columns)


def load_keys(engine: Engine, key: Callable[[str], str], now: datetime) -> StoredKeys:
    """Every suppression active at ``now``, as arrays (``key``: the store's key function,
    for rows stored without a key)."""
    collector = _Collector(now.timestamp(), key)
    if is_sqlite(engine):
        _load_sqlite(engine, collector)
    else:
        _load_postgresql(engine, collector)
    return collector.result()


def _load_postgresql(engine: Engine, out: _Collector) -> None:
    """Two connections read alternate slices in one exported snapshot: the server's work
    (the scan and the packing) runs on two cores."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            size = "pg_relation_size('suppressions') / current_setting('block_size')::int"
            pages = int(conn.execute(text(f"SELECT {size}")).scalar_one())
            starts = list(range(0, pages, _PAGES)) or [0]
            slices = []
            for n, start in enumerate(starts):
                where = f"ctid >= '({start},0)'::tid" if start else "true"
                if n + 1 < len(starts):  # the last slice is open: it takes pages added since
                    where += f" AND ctid < '({starts[n + 1]},0)'::tid"
                slices.append(where)
            if len(slices) == 1:
                _read_slices(conn, slices, out)
                return
            with ThreadPoolExecutor(1, thread_name_prefix="suppression-load") as pool:
                other = pool.submit(_read_in_snapshot, engine, snapshot, slices[1::2], out)
                try:
                    _read_slices(conn, slices[0::2], out)
                finally:
                    other.result()


def _read_in_snapshot(engine: Engine, snapshot: str, slices: list[str], out: _Collector) -> None:
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            _read_slices(conn, slices, out)


def _read_slices(conn: Connection, slices: list[str], out: _Collector) -> None:
    for where in slices:
        packed, unkeyed = conn.execute(text(_PG_SLICE.format(where=where))).one()
        if packed:
            records = np.frombuffer(packed, _RECORD)
            out.add(records["key"], records["code"], records["expires"])
        if unkeyed:
            rows = conn.execute(text(_PG_UNKEYED.format(where=where))).all()
            out.add_unkeyed([tuple(r) for r in rows])


def _load_sqlite(engine: Engine, out: _Collector) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(_LITE_ALL)
            while rows := cursor.fetchmany(_BATCH):
                records = np.array(rows, _LITE_ROW)
                unkeyed = records["unkeyed"]
                if unkeyed.any():
                    picked = records[unkeyed]
                    out.add_unkeyed(
                        [
                            (r["address"], r["scope"], r["code"], None)
                            if np.isinf(r["expires"])
                            else (r["address"], r["scope"], r["code"], r["expires"])
                            for r in picked
                        ]
                    )
                    records = records[~unkeyed]
                out.add(records["key"], records["code"], records["expires"])
        finally:
            cursor.close()
    finally:
        raw.close()


class KeyChange(NamedTuple):
    """One change-log row as :meth:`mta.suppression.SuppressionSet.apply_keys` takes it:
    ``code`` is :data:`mta.suppression.GONE` for a removal or expiry; ``expires_at``
    epoch seconds or None. (A tuple: a follower catching up makes millions.)"""

    key: int
    code: int
    expires_at: float | None


def key_changes_since(
    engine: Engine, cursor: int, limit: int, key: Callable[[str], str]
) -> tuple[list[KeyChange], int]:
    """Up to ``limit`` changes above ``cursor``, in cursor order, by stored key, and the
    last cursor read (``cursor`` when there was none). A change stored without a key
    gets it computed; one no key can be made of is skipped (but read past)."""
    expiry = _LITE_EXPIRY if is_sqlite(engine) else _PG_EXPIRY
    query = text(_CHANGES.format(expiry=expiry))
    single = engine.execution_options(**{SINGLE_STATEMENT: True})
    with single.connect() as conn:
        rows = conn.execute(query, {"after": cursor, "limit": limit}).all()
    out = []
    last = cursor
    for n, op, stored, code, expires, address, scope in rows:
        last = n
        if stored is None:
            try:
                k = suppression_key(scope, key(address))
            except ValueError:
                continue
        else:
            k = stored + _BIT64 if stored < 0 else stored  # unsigned_key, inline
        if op in TOMBSTONES:
            out.append(KeyChange(k, GONE, None))
        else:
            out.append(KeyChange(k, code, expires))
    return out, last

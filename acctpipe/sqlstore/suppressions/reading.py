"""The suppression list and its change log read in bulk: plain SQL on the driver's cursor.

An export of millions of rows, or a follower catching up on millions of
changes, spends its time per row, so no ORM row or type processor is built and
the work per row goes where it is cheapest. Pages are keyset (or cursor) pages,
each one statement on a pooled connection, so no transaction stays open
between them and memory holds one page.

* :func:`export_pages` — the export's rows as the text of their seven cells,
  timestamps formatted by the database as Python's ``isoformat`` writes a UTC
  datetime (microseconds left out when zero — the tests prove it equal);
* :func:`changes_after` — the change log after a cursor as :class:`Change`
  objects (:meth:`SuppressionStore.changes_since`): SQLite's stored text read
  by :meth:`datetime.fromisoformat`, PostgreSQL's timestamps by the driver in UTC;
* :func:`change_json_rows` — the same rows shaped for the API's JSON page.

A character no cell of ours holds, U+0001 (:data:`ODD`), marks rows the caller
must write the careful way: it ends the last cell of an export row whose text
cell may begin like a formula, and it begins a timestamp SQLite holds in a form
other than the one SQLAlchemy writes (followed by the stored text).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine

from acctpipe.sqlstore.suppressions.model import Change

__all__ = [
    "ODD",
    "change_json_rows",
    "changes_after",
    "event_ids",
    "export_pages",
    "iso_sql",
]

ODD: Final = "\x01"
Rows = list[tuple[Any, ...]]
_FROM_ISO: Final = datetime.fromisoformat


def iso_sql(dialect: str, column: str, suffix: str = "+00:00") -> str:
    """SQL giving ``column`` (a UTC timestamp) as ISO 8601 text ending in ``suffix``.

    Microseconds are left out when zero, as :meth:`datetime.isoformat` does; NULL
    gives ''. On SQLite a value not of the 26 characters SQLAlchemy stores
    (``YYYY-MM-DD HH:MM:SS.ffffff``) gives :data:`ODD` followed by the value.
    """
    if dialect == "sqlite":
        # The one ' ' and the one '.' of the stored form: the replaces touch nothing else.
        return (
            f"CASE WHEN length({column}) = 26 THEN replace(replace({column}, ' ', 'T'), "
            f"'.000000', '') || '{suffix}' ELSE ifnull(char(1) || {column}, '') END"
        )
    # to_char in UTC whatever the session's time zone; the one '.' is the one before
    # the microseconds, so the replace drops a zero fraction and nothing else.
    return (
        f"CASE WHEN {column} IS NULL THEN '' ELSE replace(to_char({column} AT TIME ZONE 'UTC', "
        f"'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || '{suffix}' END"
    )


def _mark(dialect: str, name: str) -> str:
    """A bind parameter in the driver's own style (sqlite3: ``:name``, psycopg: ``%(name)s``)."""
    return f":{name}" if dialect == "sqlite" else f"%({name})s"


def _maybe_active(dialect: str, column: str) -> str:
    """SQL true when ``column`` may begin like a formula: its first character is below
    ``0`` (tab, CR, quote, ``+``, ``-``…) or in ``=`` … ``@``. Two byte-order comparisons,
    a superset of OWASP's list, cheaper than looking at the character."""
    c = f'{column} COLLATE "C"' if dialect == "postgresql" else column
    return f"(({c} < '0' AND {column} <> '') OR ({c} >= '=' AND {c} < 'A'))"


def _export_sql(dialect: str, scope: bool, reason: bool, after: bool) -> str:
    m = _mark
    where = [
        *([f"scope = {m(dialect, 'scope')}"] if scope else []),
        *([f"reason = {m(dialect, 'reason')}"] if reason else []),
        *([f"(address, scope) > ({m(dialect, 'a')}, {m(dialect, 's')})"] if after else []),
    ]
    care = " OR ".join(_maybe_active(dialect, c) for c in ("address", "scope", "reason", "detail"))
    mark = "char(1)" if dialect == "sqlite" else "chr(1)"
    return (
        "SELECT address, scope, reason, detail, "  # noqa: S608 - our column names only; values are bound
        f"{iso_sql(dialect, 'created_at')}, {iso_sql(dialect, 'updated_at')}, "
        f"{iso_sql(dialect, 'expires_at')} || CASE WHEN {care} THEN {mark} ELSE '' END "
        f"FROM suppressions{' WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY address, scope LIMIT {m(dialect, 'n')}"
    )


def _fetch(engine: Engine, sql: str, params: dict[str, Any], *, utc: bool = False) -> Rows:
    """All rows of one statement on a pooled connection, read with the driver's cursor.

    On SQLite (autocommit) the statement is its own consistent read; on PostgreSQL
    the read transaction is rolled back when the connection goes back to the pool,
    and it walks the index rather than sorting (see below).
    With ``utc`` PostgreSQL's session time zone is UTC for that transaction only, so
    the driver hands timestamps back in UTC (``datetime.UTC``), as the ORM's type does.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            if engine.dialect.name == "postgresql":
                # Every read here is a keyset page ordered by an index. Just after a bulk
                # import the planner's statistics still say the table is small, and it
                # sorted the whole table for each page (1.6M rows exported at 23k/s).
                cursor.execute("SET LOCAL enable_sort = off")
                if utc:
                    cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()
    finally:
        raw.close()


def export_pages(
    engine: Engine,
    *,
    scope: str | None = None,
    reason: str | None = None,
    batch: int = 20_000,
) -> Iterator[Rows]:
    """The export's rows — address, scope, reason, detail and the three timestamps as
    ISO text ('' for none), :data:`ODD` where care is needed (see above) — ``batch``
    at a time by (address, scope); ``scope`` is already normalised."""
    dialect = engine.dialect.name
    params: dict[str, Any] = {"n": batch}
    if scope is not None:
        params["scope"] = scope
    if reason is not None:
        params["reason"] = reason
    first = _export_sql(dialect, scope is not None, reason is not None, False)
    following = _export_sql(dialect, scope is not None, reason is not None, True)
    sql = first
    while True:
        rows = _fetch(engine, sql, params)
        if rows:
            yield rows
        if len(rows) < batch:
            return
        params["a"], params["s"] = rows[-1][0], rows[-1][1]
        sql = following


def event_ids(text: str) -> list[str]:
    """The JSON list of strings ``text`` (as SQLite's JSON and PostgreSQL's ``jsonb::text``
    spell it, ``["a", "b"]``), split without the JSON decoder when no item holds an
    escape; anything else goes through :func:`json.loads`."""
    if text == "[]":
        return []
    if text[:2] == '["' and text[-2:] == '"]' and "\\" not in text:
        items = text[2:-2].split('", "')
        if text.count('"') == 2 * len(items):  # no quote left inside an item: all strings
            return items
    found = json.loads(text)
    if not isinstance(found, list):
        raise TypeError(f"event_ids is not a JSON list: {text[:80]!r}")
    return found


def change_json_rows(engine: Engine, cursor: int, limit: int) -> Rows:
    """Up to ``limit`` change-log rows after ``cursor`` in cursor order, shaped for the API's
    JSON template: cursor, op, address, scope, reason, detail, ``expires_at`` as a JSON
    value (``null`` or the quoted ISO text ending in ``Z``, as pydantic writes it),
    ``changed_at`` as that text, ``event_ids`` as its stored JSON text and ``tombstone``
    as ``true``/``false``. Text cells are not escaped: the caller checks they need none."""
    dialect = engine.dialect.name
    ids = "event_ids::text" if dialect == "postgresql" else "event_ids"
    expires = iso_sql(dialect, "expires_at", "Z")
    sql = (
        "SELECT cursor, op, address, scope, reason, detail, "  # noqa: S608 - constant text
        f"CASE WHEN expires_at IS NULL THEN 'null' ELSE '\"' || {expires} || '\"' END, "
        f"{iso_sql(dialect, 'changed_at', 'Z')}, {ids}, "
        "CASE WHEN op IN ('remove', 'expire') THEN 'true' ELSE 'false' END "
        f"FROM suppression_changes WHERE cursor > {_mark(dialect, 'c')} "
        f"ORDER BY cursor LIMIT {_mark(dialect, 'n')}"
    )
    return _fetch(engine, sql, {"c": cursor, "n": limit})


def _stamp_sql(dialect: str, column: str) -> str:
    """SQL giving ``column`` as :func:`_when` reads it: on SQLite the stored text with
    ``+00:00`` for :meth:`datetime.fromisoformat` (a value not in SQLAlchemy's form gets
    :data:`ODD` in front, which fromisoformat refuses); on PostgreSQL the timestamp itself,
    which the driver returns in UTC (see :func:`_fetch`)."""
    if dialect == "sqlite":
        return (
            f"CASE WHEN length({column}) = 26 THEN {column} || '+00:00' "
            f"ELSE char(1) || {column} END"
        )
    return column


def _same(value: Any) -> Any:
    return value


def changes_after(engine: Engine, cursor: int, limit: int) -> list[Change] | None:
    """Up to ``limit`` changes after ``cursor`` in cursor order, as :class:`Change`; None if a
    timestamp was stored in an odd form (read those through the ORM's column types)."""
    dialect = engine.dialect.name
    ids = "event_ids::text" if dialect == "postgresql" else "event_ids"
    sql = (
        "SELECT cursor, op, address, scope, reason, detail, "  # noqa: S608 - constant text
        f"{_stamp_sql(dialect, 'expires_at')}, {_stamp_sql(dialect, 'changed_at')}, {ids}, "
        f"notify FROM suppression_changes WHERE cursor > {_mark(dialect, 'c')} "
        f"ORDER BY cursor LIMIT {_mark(dialect, 'n')}"
    )
    when, split = (_FROM_ISO if dialect == "sqlite" else _same), event_ids
    try:
        # Positional, in Change's field order, inline: a call or keywords per change
        # cost a third more.
        return [
            Change(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                when(r[7]),
                when(r[6]) if r[6] else None,
                r[5],
                () if r[8] == "[]" else tuple(split(r[8])),
                bool(r[9]),
            )
            for r in _fetch(engine, sql, {"c": cursor, "n": limit}, utc=True)
        ]
    except ValueError:  # fromisoformat of the ODD mark
        return None

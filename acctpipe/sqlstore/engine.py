"""Engines for the SQL store: SQLite (embedded default) or PostgreSQL (shared, scale-out).

:func:`make_engine` turns a URL into an engine with the settings each backend
needs; :func:`write_transaction` opens the one kind of transaction that may
append to the suppression change log. Both backends run the same schema.

SQLite connections get, on connect: WAL journal (readers never block the
writer), a busy timeout (a second writer waits instead of failing at once) and
foreign keys on. SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN``, so a
write transaction can say ``BEGIN IMMEDIATE`` and take the write lock before it
reads anything (see :func:`write_transaction`).

PostgreSQL URLs (``postgresql://`` or ``postgres://``) are mapped to the psycopg
(v3) driver unless they name a driver themselves.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import StaticPool

from acctpipe.sqlstore.deadline import Deadline

__all__ = [
    "CHANGE_LOG_LOCK",
    "DEFAULT_DATABASE_URL",
    "MIGRATION_LOCK",
    "is_sqlite",
    "make_engine",
    "redacted",
    "sqlite_path",
    "write_transaction",
]

DEFAULT_DATABASE_URL: Final = "sqlite:///acctpipe-data/acctpipe.sqlite"
# pg_advisory_xact_lock keys (any constant bigint, the same on every node): one
# serialises appends to suppression_changes, the other concurrent migrations.
CHANGE_LOG_LOCK: Final = 0x61637470_00000001  # "actp" · 1
MIGRATION_LOCK: Final = 0x61637470_00000002  # "actp" · 2
_BUSY_TIMEOUT_MS: Final = 30_000
CALL_LIMIT: Final = 35.0  # seconds a PostgreSQL call may wait for the server, client side
_IMMEDIATE: Final = "acctpipe_begin_immediate"  # execution option read by the begin hook


def _url(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: Engine | Connection) -> bool:
    """True when ``engine`` (or connection) talks to SQLite."""
    return engine.dialect.name == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def redacted(url: str | URL) -> str:
    """``url`` with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://…``), configured as above.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`, except
    ``call_limit`` (PostgreSQL): how long a call may wait for the server before the
    client cuts it off (:mod:`acctpipe.sqlstore.deadline`).
    """
    parsed = _url(url)
    call_limit = float(kwargs.pop("call_limit", CALL_LIMIT))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)  # a shared server restarts; don't hand out dead ones
    # psycopg prepares a statement on the server after 5 runs, and PostgreSQL may then
    # keep a generic plan made while the table was small: a sequential scan that an
    # import filling the table goes on paying for (measured on a 100k-row import:
    # 7x slower to import, 50x slower to re-import).
    # A server that stops answering must fail a request, not hang it (and the tailer,
    # the readiness probe and shutdown behind it): 5 s to connect, 30 s per statement,
    # and, for a server that is frozen and so enforces nothing, a client-side deadline
    # (acctpipe.sqlstore.deadline) a little past the statement timeout.
    connect_args: dict[str, Any] = {
        "prepare_threshold": None,
        "connect_timeout": 5,
        "options": "-c statement_timeout=30000",
    }
    connect_args.update(kwargs.pop("connect_args", {}))
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    Deadline(engine, call_limit)
    return engine


def _use_wal(cursor: Any) -> None:
    # WAL is a property of the file, set once. Switching a new file to it needs the
    # database to itself and SQLite answers "locked" at once (no busy wait) when
    # another connection is creating the file too: retry until the busy timeout.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", "memory"):
        return
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return  # (a file system without WAL support keeps its mode: no error, no loop)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    connect_args: dict[str, Any] = {"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    connect_args.update(kwargs.pop("connect_args", {}))
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every checkout would see a new empty database.
        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (below) instead of sqlite3's implicit, deferred one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            _use_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine, *, lock: int = CHANGE_LOG_LOCK) -> Iterator[Connection]:
    """A transaction that writes in commit order: commit on success, roll back on error.

    On SQLite it starts with ``BEGIN IMMEDIATE`` (the database's one write lock,
    taken before the first read); on PostgreSQL it first takes the transaction
    advisory lock ``lock``, held until commit or rollback. Either way, two such
    transactions never overlap, so values they allocate (the change-log cursor)
    become visible in the order they were allocated.
    """
    with engine.connect() as conn:
        conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
            yield conn

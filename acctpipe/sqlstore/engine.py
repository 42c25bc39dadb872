"""Engines for the SQL store: SQLite (embedded default) or PostgreSQL (shared, scale-out).

:func:`make_engine` turns a URL into an engine with the settings each backend
needs; :func:`write_transaction` opens the one kind of transaction that may
append to the suppression change log. Both backends run the same schema.

SQLite connections get, on connect: WAL journal (readers never block the
writer), a busy timeout (a second writer waits instead of failing at once),
foreign keys on and temporary tables in memory (durability is unchanged: only
TEMP tables and sorts live there). SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN``, so a
write transaction can say ``BEGIN IMMEDIATE`` and take the write lock before it
reads anything (see :func:`write_transaction`).

PostgreSQL URLs (``postgresql://`` or ``postgres://``) are mapped to the psycopg
(v3) driver unless they name a driver themselves.

SQLAlchemy's exceptions do not leave an engine made here: a ``handle_error`` event
(:func:`_translate`) raises, in place of every ``DBAPIError``, an error of the tree —
:class:`~acctpipe.errors.SqlStoreUnavailableError` for a connection-level failure (an
``OperationalError`` or ``InterfaceError``, a disconnect, a call the client-side deadline
cut off: retrying helps) and :class:`~acctpipe.errors.SqlStoreError` for the rest (an
``IntegrityError`` or ``ProgrammingError``, SQLite's plain ``SQLITE_ERROR``: it does
not). The driver's exception is kept as ``__cause__``. Errors that are not the
database's (a naive datetime refused by a column type: SQLAlchemy's ``StatementError``)
stay as they are, and so does a failed pre-ping, which SQLAlchemy handles itself by
reconnecting. A URL SQLAlchemy cannot parse or has no dialect for is an
:class:`~acctpipe.errors.InvalidValueError`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL, Connection, ExceptionContext
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool

from acctpipe.errors import InvalidValueError, SqlStoreError, SqlStoreUnavailableError
from acctpipe.redact import redact_url
from acctpipe.sqlstore.deadline import Deadline

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHANGE_LOG_LOCK",
    "DEFAULT_DATABASE_URL",
    "MIGRATION_LOCK",
    "SINGLE_STATEMENT",
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
BUSY_TIMEOUT_MS: Final = _BUSY_TIMEOUT_MS  # how long a SQLite writer waits for the lock
CALL_LIMIT: Final = 35.0  # seconds a PostgreSQL call may wait for the server, client side
_IMMEDIATE: Final = "acctpipe_begin_immediate"  # execution option read by the begin hook
# Execution option: the connection runs one statement (a single SELECT) and needs no
# transaction around it; on SQLite the begin hook then emits no BEGIN, and the statement
# runs in autocommit, which reads one consistent snapshot of the database all the same.
SINGLE_STATEMENT: Final = "acctpipe_single_statement"


def _parse(url: str | URL) -> URL:
    """``url`` parsed; one SQLAlchemy cannot parse is an :class:`InvalidValueError`."""
    try:
        return make_url(url)
    except ArgumentError as error:
        shown = redact_url(str(url))
        raise InvalidValueError(f"not a database URL: {shown!r}", field="database_url") from error


def _url(url: str | URL) -> URL:
    parsed = _parse(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: Engine | Connection) -> bool:
    """True when ``engine`` (or connection) talks to SQLite."""
    return engine.dialect.name == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory SQLite)."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def redacted(url: str | URL) -> str:
    """``url`` with any password hidden, for messages and logs."""
    return _parse(url).render_as_string(hide_password=True)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://…``), configured as above.

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`, except
    ``call_limit`` (PostgreSQL): how long a call may wait for the server before the
    client cuts it off (:mod:`acctpipe.sqlstore.deadline`).
    """
    parsed = _url(url)
    call_limit = float(kwargs.pop("call_limit", CALL_LIMIT))
    if parsed.get_backend_name() == "sqlite":
        engine = _create(_sqlite_engine, parsed, **kwargs)
        _translate_errors(engine, redacted(url))
        return engine
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
    engine = _create(create_engine, parsed, connect_args=connect_args, **kwargs)
    Deadline(engine, call_limit)
    _translate_errors(engine, redacted(url))
    return engine


def _create(factory: Any, url: URL, **kwargs: Any) -> Engine:
    """``factory(url, **kwargs)``; a URL naming a dialect or driver we do not have is an
    :class:`InvalidValueError` (SQLAlchemy's ``NoSuchModuleError`` as its cause)."""
    try:
        engine: Engine = factory(url, **kwargs)
    except ArgumentError as error:
        shown = url.render_as_string(hide_password=True)
        raise InvalidValueError(
            f"cannot use database URL {shown!r}: {error}", field="database_url"
        ) from error
    return engine


def _translate_errors(engine: Engine, where: str) -> None:
    """Raise the tree's errors instead of SQLAlchemy's from every call on ``engine``,
    naming ``where`` (the URL as the operator gave it, password hidden)."""

    def _on_error(context: ExceptionContext) -> None:
        _translate(context, where)

    event.listen(engine, "handle_error", _on_error)


def _translate(context: ExceptionContext, where: str) -> None:
    """The ``handle_error`` hook: raise the tree's error for a DBAPI error (SQLAlchemy
    raises it in place of its own, ``from`` the driver's exception, after its cleanup:
    a disconnected connection is still invalidated). Anything else is left alone."""
    error = context.sqlalchemy_exception
    if context.is_pre_ping or not isinstance(error, DBAPIError):
        return  # a pre-ping's failure makes the pool reconnect; a non-DBAPI error is a bug
    # SQLite files its plain SQL errors (no such table, a syntax error) under
    # OperationalError too, with the generic code SQLITE_ERROR: a fault of ours.
    local = getattr(context.original_exception, "sqlite_errorname", None) == "SQLITE_ERROR"
    unavailable = context.is_disconnect or (
        isinstance(error, OperationalError | InterfaceError) and not local
    )
    kind = _kind(context.original_exception)
    if unavailable:
        message = f"the SQL store is unavailable ({kind}); retry shortly"
        raise SqlStoreUnavailableError(message, path=where, original=error)
    raise SqlStoreError(f"the SQL store refused a statement ({kind})", path=where, original=error)


def _kind(driver_error: BaseException) -> str:
    """The driver's error as its class and code (never its text, which can quote hosts,
    users and values): ``psycopg.errors.UniqueViolation, SQLSTATE 23505``,
    ``sqlite3.IntegrityError, SQLITE_CONSTRAINT_UNIQUE``."""
    klass = type(driver_error)
    name = f"{klass.__module__}.{klass.__qualname__}"
    sqlstate = getattr(driver_error, "sqlstate", None)  # psycopg
    errorname = getattr(driver_error, "sqlite_errorname", None)  # sqlite3
    if isinstance(sqlstate, str) and sqlstate.isalnum():
        name += f", SQLSTATE {sqlstate}"
    elif isinstance(errorname, str) and errorname.replace("_", "").isalnum():
        name += f", {errorname}"
    return name


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
            # Temporary tables and sorts (an import's staging) in memory, not in temp files.
            cursor.execute("PRAGMA temp_store=MEMORY")
            _use_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(SINGLE_STATEMENT, False):
            return  # one statement: SQLite's autocommit is its own consistent read
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")

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

"""SQLAlchemy's exceptions do not leave the SQL store: an engine made by ``make_engine``
raises the error tree's SqlStoreUnavailableError (retry helps) or SqlStoreError (it does
not), with the driver's exception as ``__cause__`` and no driver text in the message.
(A bug's error, SQLAlchemy's StatementError for a naive datetime, stays itself:
test_engine.py pins it.)"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from acctpipe.errors import InvalidValueError, SqlStoreError, SqlStoreUnavailableError, StoreError
from acctpipe.sqlstore import make_engine, write_transaction
from tests.acctpipe.sqlstore.proxy import FreezableProxy

SECRET = "s3cret-value-9d1"


def _sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (a TEXT PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (:a)"), {"a": SECRET})
    return engine


def test_a_sqlite_constraint_violation_is_a_store_error_that_names_no_value(
    tmp_path: Path,
) -> None:
    """A duplicate key on SQLite raises SqlStoreError (a StoreError, not retryable) naming
    the driver's class and code, not the row's value; the driver's IntegrityError is the
    cause and SQLAlchemy's ``original``."""
    engine = _sqlite(tmp_path)
    try:
        with pytest.raises(SqlStoreError) as caught, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:a)"), {"a": SECRET})
    finally:
        engine.dispose()
    error = caught.value
    assert type(error) is SqlStoreError
    assert isinstance(error, StoreError)
    assert not error.retryable
    assert isinstance(error.__cause__, sqlite3.IntegrityError)
    assert isinstance(error.original, IntegrityError)
    assert SECRET not in str(error)
    assert "sqlite3.IntegrityError, SQLITE_CONSTRAINT_PRIMARYKEY" in str(error)
    assert str(error).startswith("sqlite:///")


def test_sqlite_sql_errors_are_store_errors_and_a_lock_is_unavailable(tmp_path: Path) -> None:
    """SQLite's plain SQL errors (no such table: SQLITE_ERROR, filed by sqlite3 as an
    OperationalError) are SqlStoreError; a database locked past the busy timeout is
    SqlStoreUnavailableError (retry helps)."""
    engine = _sqlite(tmp_path)
    try:
        with pytest.raises(SqlStoreError) as caught, engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        engine.dispose()
    assert type(caught.value) is SqlStoreError
    assert isinstance(caught.value.original, OperationalError)

    path = tmp_path / "e.sqlite"
    locked = make_engine(f"sqlite:///{path}")

    @event.listens_for(locked, "connect")
    def _impatient(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")  # after make_engine's 30 s

    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(SqlStoreUnavailableError) as busy:
            _write(locked)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
        locked.dispose()
    assert busy.value.retryable
    assert "SQLITE_BUSY" in str(busy.value)


def _write(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES ('x')"))


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://u:pw-9d1@h/db"])
def test_a_database_url_that_cannot_be_used_is_an_invalid_value(url: str) -> None:
    """A URL SQLAlchemy cannot parse, or one naming a dialect it does not have, is an
    InvalidValueError (field ``database_url``) that never shows the password."""
    with pytest.raises(InvalidValueError) as caught:
        make_engine(url)
    assert caught.value.field == "database_url"
    assert "pw-9d1" not in str(caught.value)


def test_an_unreachable_postgresql_is_unavailable_without_password_or_driver_text() -> None:
    """Connecting to a PostgreSQL that refuses raises SqlStoreUnavailableError naming the
    URL with its password hidden, and not the driver's text (hosts, users)."""
    engine = make_engine(
        "postgresql://bob:pw-9d1@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 2}
    )
    try:
        with pytest.raises(SqlStoreUnavailableError) as caught:
            engine.connect()
    finally:
        engine.dispose()
    error = caught.value
    assert error.retryable
    assert isinstance(error.__cause__, psycopg.OperationalError)
    assert "pw-9d1" not in str(error)
    assert "refused" not in str(error).lower()
    assert "127.0.0.1:1/nowhere" in str(error)


def test_postgresql_refusals_are_store_errors_with_their_sqlstate(postgres_url: str) -> None:
    """On PostgreSQL a unique violation and a syntax error are SqlStoreError (not
    retryable) naming the SQLSTATE, never the value; the connection stays usable."""
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE t (a TEXT PRIMARY KEY) ON COMMIT DROP"))
            conn.execute(text("INSERT INTO t VALUES (:a)"), {"a": SECRET})
            with pytest.raises(SqlStoreError) as dup, conn.begin_nested():
                conn.execute(text("INSERT INTO t VALUES (:a)"), {"a": SECRET})
        assert type(dup.value) is SqlStoreError
        assert isinstance(dup.value.original, IntegrityError)
        assert "SQLSTATE 23505" in str(dup.value)
        assert SECRET not in str(dup.value)
        with pytest.raises(SqlStoreError) as bad, engine.connect() as conn:
            conn.execute(text("SELEC 1"))
        assert isinstance(bad.value.original, ProgrammingError)
        assert not bad.value.retryable
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_stopped_postgresql_is_unavailable_and_the_pool_recovers(postgres_url: str) -> None:
    """A server that stops (the proxy closes every connection and refuses new ones) makes
    calls raise SqlStoreUnavailableError; once it serves again, the pool's pre-ping drops
    the dead connection and reconnects without an error reaching the caller."""
    with FreezableProxy() as proxy:
        engine = make_engine(proxy.url(postgres_url), connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
            proxy.refuse()
            time.sleep(0.3)  # the proxy drops the pooled connection
            with pytest.raises(SqlStoreUnavailableError) as caught, engine.connect() as conn:
                conn.execute(text("SELECT 2"))
            assert caught.value.retryable
            proxy.serve()
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 3")).scalar() == 3
        finally:
            engine.dispose()


def test_a_dead_pooled_connection_is_replaced_by_the_pre_ping(postgres_url: str) -> None:
    """A pooled connection whose server session ended is found dead by the pre-ping and
    replaced: the translation does not turn the pre-ping's failure into an error."""
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.1)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()

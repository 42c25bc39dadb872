"""Engines: SQLite settings, PostgreSQL driver choice, timezone-aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import StatementError

from acctpipe.cli.options import DEFAULT_URL
from acctpipe.sqlstore import DEFAULT_DATABASE_URL, make_engine, redacted, sqlite_path
from acctpipe.sqlstore.schema import throttle_decisions


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    """Every SQLite connection runs in WAL mode, waits for locks, and enforces foreign keys."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg_3() -> None:
    """postgresql:// and postgres:// URLs get the psycopg (v3) driver; an explicit one is kept."""
    assert make_engine("postgresql://u@127.0.0.1/db").dialect.driver == "psycopg"
    assert make_engine("postgres://u@127.0.0.1/db").dialect.driver == "psycopg"
    assert make_engine("postgresql+psycopg://u@127.0.0.1/db").dialect.driver == "psycopg"


def test_url_helpers() -> None:
    """redacted() hides passwords; sqlite_path() finds the file of a SQLite URL only."""
    assert redacted("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert sqlite_path("sqlite:///data/x.sqlite") == Path("data/x.sqlite")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://h/db") is None


def test_cli_default_url_is_the_library_default() -> None:
    """The CLI's --database-url default is acctpipe.sqlstore's default."""
    assert DEFAULT_URL == DEFAULT_DATABASE_URL


def _row(when: datetime) -> dict[str, object]:
    return {
        "queue": "q",
        "vmta": "v",
        "action": "slow",
        "rule": "r",
        "decided_at": when,
        "expires_at": when,
        "evidence": {},
        "event_ids": [],
    }


def test_timestamps_come_back_aware_in_utc(engine: Engine) -> None:
    """A timestamp in any zone is stored as its instant and returned aware, in UTC."""
    local = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    with engine.begin() as conn:
        conn.execute(insert(throttle_decisions), _row(local))
        back = conn.execute(select(throttle_decisions.c.decided_at)).scalar_one()
    assert back == local
    assert back.tzinfo == UTC
    assert back.hour == 7


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    """A naive datetime is an error, not silently taken as local time."""
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(throttle_decisions), _row(datetime(2026, 3, 1)))  # noqa: DTZ001


def test_postgresql_statements_are_not_prepared_on_the_server(postgres_url: str) -> None:
    """psycopg's server-side prepares are off: no stale generic plan from a small table."""
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            assert dbapi.prepare_threshold is None
    finally:
        engine.dispose()

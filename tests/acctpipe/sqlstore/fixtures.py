"""Databases for tests: a SQLite file per test, and PostgreSQL at 127.0.0.1:5432.

Each test's SQLite file is a copy of one migrated per session (running the
migrations for every one of hundreds of tests cost more than the tests did);
``tests/acctpipe/sqlstore`` still migrates real files of its own, step by step.

PostgreSQL (user postgres, trust authentication; override the server with
``ACCTPIPE_TEST_POSTGRES_URL``) gets a uniquely named database per session,
dropped at the end; tests that need it are skipped, with the reason, when the
server cannot be reached. Conftests import these fixtures.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, make_url, text

from acctpipe.sqlstore import make_engine, metadata, migrate

POSTGRES_URL = os.environ.get(
    "ACCTPIPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES_URL, connect_timeout=5, autocommit=True)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database ``acctpipe_test_<random>``; dropped afterwards."""
    name = f"acctpipe_test_{secrets.token_hex(5)}"
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as conn:
            # FORCE: a connection a failed test left open must not keep the database alive.
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL, or skip: PostgreSQL is not reachable here (CI makes sure it is)."""
    try:
        with _admin():
            pass
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(f"PostgreSQL not reachable at {make_url(POSTGRES_URL)!r}: {first}")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A session database, migrated to head (tests empty it before use)."""
    with fresh_postgres_database() as url:
        migrate(url)
        yield url


def _empty(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (per worker), closed, to copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "store.sqlite"
    migrate(f"sqlite:///{path}")  # disposes its engine: WAL checkpointed, no -wal file left
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: a SQLite file, then the PostgreSQL session database."""
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("postgres_url"))
    _empty(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``, disposed after the test."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no migration has touched (a new PostgreSQL database each time)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    request.getfixturevalue("postgres_server")
    with fresh_postgres_database() as url:
        yield url

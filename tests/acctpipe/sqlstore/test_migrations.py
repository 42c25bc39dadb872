"""Alembic migrations: up to head and down to base on SQLite and PostgreSQL, one schema."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from acctpipe.sqlstore import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    metadata,
    migrate,
    open_database,
)
from mta.errors import StoreError

TABLES = {
    "suppressions",
    "suppression_changes",
    "suppression_counts",
    "throttle_decisions",
    "api_keys",
    "webhook_subscriptions",
    "webhook_messages",
    "webhook_attempts",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_upgrade_to_head_then_downgrade_to_base(empty_db_url: str) -> None:
    """A new database migrates to head (all tables), and back to base (none), and up again."""
    assert current_revision(empty_db_url) is None
    migrate(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert _tables(empty_db_url) == TABLES
    downgrade(empty_db_url)
    assert current_revision(empty_db_url) is None
    assert _tables(empty_db_url) == set()
    migrate(empty_db_url)
    assert _tables(empty_db_url) == TABLES


def test_migrated_schema_matches_the_models(empty_db_url: str) -> None:
    """The migrations create exactly the tables, columns, types and indexes of acctpipe.sqlstore."""
    migrate(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_constraint_names_follow_the_naming_convention(empty_db_url: str) -> None:
    """Check and primary-key constraints carry the names later migrations will refer to."""
    migrate(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        inspector = inspect(engine)
        checks = {c["name"] for t in sorted(TABLES) for c in inspector.get_check_constraints(t)}
        primary = inspector.get_pk_constraint("suppressions")
    finally:
        engine.dispose()
    assert checks == {
        "ck_suppressions_reason",
        "ck_suppression_changes_op",
        "ck_throttle_decisions_action",
        "ck_api_keys_scope",
        "ck_webhook_messages_status",
    }
    assert primary["constrained_columns"] == ["address", "scope"]
    if not empty_db_url.startswith("sqlite"):  # SQLite does not keep primary-key names
        assert primary["name"] == "pk_suppressions"


@pytest.mark.slow
def test_migrate_is_idempotent_and_safe_to_race(empty_db_url: str) -> None:
    """Several processes' worth of migrate() at once leave one correct schema, no error."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(empty_db_url)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    migrate(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()


def test_open_database_creates_the_sqlite_directory(tmp_path: Path) -> None:
    """open_database makes the SQLite file's directory and migrates on first use."""
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'store.sqlite'}"
    engine = open_database(url)
    engine.dispose()
    assert (tmp_path / "a" / "b" / "store.sqlite").exists()
    assert current_revision(url) == head_revision()


def test_unreachable_database_is_a_store_error_without_the_password() -> None:
    """A database that cannot be reached raises StoreError naming the URL, password hidden."""
    url = "postgresql://postgres:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        open_database(url)
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1:1/nowhere" in str(caught.value)

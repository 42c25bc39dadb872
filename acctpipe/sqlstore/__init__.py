"""The SQL store's plumbing: engines, schema, Alembic migrations (SQLite or PostgreSQL).

The suppression list and throttle decisions built on it live in
:mod:`acctpipe.sqlstore.suppressions`.
"""

from acctpipe.sqlstore.engine import (
    CHANGE_LOG_LOCK,
    DEFAULT_DATABASE_URL,
    MIGRATION_LOCK,
    is_sqlite,
    make_engine,
    redacted,
    sqlite_path,
    write_transaction,
)
from acctpipe.sqlstore.migrate import (
    SCRIPT_LOCATION,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    migrate,
    open_database,
)
from acctpipe.sqlstore.schema import (
    api_keys,
    metadata,
    suppression_changes,
    suppressions,
    throttle_decisions,
    webhook_attempts,
    webhook_messages,
    webhook_subscriptions,
)

__all__ = [
    "CHANGE_LOG_LOCK",
    "DEFAULT_DATABASE_URL",
    "MIGRATION_LOCK",
    "SCRIPT_LOCATION",
    "alembic_config",
    "api_keys",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_sqlite",
    "make_engine",
    "metadata",
    "migrate",
    "open_database",
    "redacted",
    "sqlite_path",
    "suppression_changes",
    "suppressions",
    "throttle_decisions",
    "webhook_attempts",
    "webhook_messages",
    "webhook_subscriptions",
    "write_transaction",
]

"""The SQL schema (SQLAlchemy Core), one for SQLite and PostgreSQL.

The Alembic migrations in ``migrations/versions`` (``acctpipe.migrations``) create
exactly these tables; a test compares the migrated database with this metadata on both
backends, so the two cannot drift apart unnoticed.

* ``suppressions`` — the current list: one row per (address, scope).
* ``suppression_changes`` — every change to that list, in commit order, keyed by
  a strictly increasing ``cursor``; removals and expiries are tombstones.
  Both carry ``lookup_key``: :func:`mta.suppression.suppression_key` of the
  row's (scope, address) as a signed 64-bit integer, so a node loads and
  follows the list without normalising or hashing (NULL only in a row written
  by something other than the store: readers compute it then).
* ``suppression_counts`` — how many rows of ``suppressions`` there are per
  (reason, scope kind), kept by every write in the same transaction, so a
  dashboard or a metric never counts a list of millions per request.
* ``throttle_decisions`` — what the throttle controller decided, with evidence.
* ``api_keys`` — HTTP API keys: a public ``key_id`` and the SHA-256 of the key.
* ``webhook_subscriptions`` — where the CRM wants which events, and the secrets.
* ``webhook_messages`` — the outbox: one row per (event, subscription), written
  in the transaction that made the decision; the worker delivers and retries it.
* ``webhook_attempts`` — every delivery attempt of a message, for audit.
"""

from __future__ import annotations

from typing import Final, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
    text,
)

from acctpipe.policy.types import SuppressionReason, ThrottleAction
from acctpipe.sqlstore.types import BIG_ID, JSON_VALUE, UTCDateTime

__all__ = [
    "API_SCOPES",
    "CHANGE_OPS",
    "MESSAGE_STATUSES",
    "REASONS",
    "SCOPE_KINDS",
    "THROTTLE_ACTIONS",
    "api_keys",
    "metadata",
    "suppression_changes",
    "suppression_counts",
    "suppressions",
    "throttle_decisions",
    "webhook_attempts",
    "webhook_messages",
    "webhook_subscriptions",
]

REASONS: Final[tuple[str, ...]] = get_args(SuppressionReason)
THROTTLE_ACTIONS: Final[tuple[str, ...]] = get_args(ThrottleAction)
CHANGE_OPS: Final = ("add", "update", "remove", "expire")
API_SCOPES: Final = ("read", "write", "admin")
MESSAGE_STATUSES: Final = ("pending", "delivered", "dead", "cancelled")

# Deterministic constraint names, so a later migration can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    # The values are our own constants, never user input.
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


ADDRESS_LENGTH: Final = 320  # 64 (local) + 1 + 255 (domain): RFC 5321 section 4.5.3.1

suppressions = Table(
    "suppressions",
    metadata,
    Column("address", String(ADDRESS_LENGTH), nullable=False),
    Column("scope", String(ADDRESS_LENGTH), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("event_ids", JSON_VALUE, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),  # NULL: for good
    Column("lookup_key", BigInteger, nullable=True),
    PrimaryKeyConstraint("address", "scope"),
    _one_of("reason", REASONS, "reason"),
    Index(None, "scope", "address"),
    # Partial: only rows that expire are the sweeper's (expires_at <= now), and an import
    # of rows kept for good (most of a list) writes nothing to it.
    Index(
        None,
        "expires_at",
        postgresql_where=text("expires_at IS NOT NULL"),
        sqlite_where=text("expires_at IS NOT NULL"),
    ),
)

suppression_changes = Table(
    "suppression_changes",
    metadata,
    Column("cursor", BIG_ID, Identity(), primary_key=True),
    Column("op", String(8), nullable=False),
    Column("address", String(ADDRESS_LENGTH), nullable=False),
    Column("scope", String(ADDRESS_LENGTH), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("event_ids", JSON_VALUE, nullable=False),
    Column("notify", Boolean, nullable=False, server_default=false()),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("lookup_key", BigInteger, nullable=True),
    _one_of("op", CHANGE_OPS, "op"),
    # AUTOINCREMENT: SQLite never reuses a cursor, even after the newest row is deleted.
    sqlite_autoincrement=True,
)

SCOPE_KINDS: Final = ("global", "domain", "list")

suppression_counts = Table(
    "suppression_counts",
    metadata,
    Column("reason", String(32), nullable=False),
    Column("scope_kind", String(8), nullable=False),  # global, domain or list
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("reason", "scope_kind"),
)

throttle_decisions = Table(
    "throttle_decisions",
    metadata,
    Column("id", BIG_ID, Identity(), primary_key=True),
    Column("queue", String(255), nullable=False),
    Column("vmta", String(255), nullable=False),
    Column("action", String(8), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("rate", Float, nullable=True),
    Column("max_smtp_out", Integer, nullable=True),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("evidence", JSON_VALUE, nullable=False),
    Column("event_ids", JSON_VALUE, nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    _one_of("action", THROTTLE_ACTIONS, "action"),
    Index(None, "queue", "vmta", "decided_at"),
    Index(None, "expires_at"),
    sqlite_autoincrement=True,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BIG_ID, Identity(), primary_key=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # hex SHA-256 of the whole key
    Column("rate_limit", Integer, nullable=True),  # requests per minute; NULL: the default
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    _one_of("scope", API_SCOPES, "scope"),
    sqlite_autoincrement=True,
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", BIG_ID, Identity(), primary_key=True),
    Column("url", Text, nullable=False),
    Column("event_types", JSON_VALUE, nullable=False),  # list of event type names
    Column("filter", JSON_VALUE, nullable=False),  # {"domains": [...], ...}; {} matches all
    Column("secrets", JSON_VALUE, nullable=False),  # [{"secret": "whsec_...", "expires_at": ...}]
    Column("description", Text, nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)

webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", BIG_ID, Identity(), primary_key=True),
    Column("msg_id", String(64), nullable=False, unique=True),  # webhook-id: stable
    Column(
        "subscription_id",
        BIG_ID,
        ForeignKey("webhook_subscriptions.id"),
        nullable=False,
    ),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON bytes signed on every attempt
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("locked_by", String(200), nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    _one_of("status", MESSAGE_STATUSES, "status"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "created_at"),
    Index(None, "subscription_id", "created_at"),
    sqlite_autoincrement=True,
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BIG_ID, Identity(), primary_key=True),
    Column("message_id", BIG_ID, ForeignKey("webhook_messages.id"), nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("node", String(200), nullable=False, server_default=""),
    Index(None, "message_id", "attempted_at"),
    sqlite_autoincrement=True,
)

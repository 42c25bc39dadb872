"""Suppression lists at scale: a stored 64-bit lookup key, and counts kept as rows change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

* ``suppressions.lookup_key`` and ``suppression_changes.lookup_key``: the key the
  MTA's in-memory set looks a recipient up by (:func:`mta.suppression.suppression_key`,
  stored signed), so a node loads 50 million rows without normalising or hashing
  each one. Existing rows are filled in here, a batch at a time.
* ``suppression_counts``: rows of ``suppressions`` per (reason, scope kind), which the
  store keeps in step in every write transaction; filled in here from the table.
* Two indexes cheaper to keep up at tens of millions of rows: the change log's index on
  (address, scope) goes (no query reads the log by address: it is read by cursor), and
  the one on ``suppressions.expires_at`` holds only the rows that expire (the sweeper's
  ``expires_at <= now`` uses it as before; a list kept for good writes nothing to it).

The key function is spelled out here rather than imported: a migration must keep
writing what it wrote the day it was written (a test checks the two agree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def lookup_key(scope: str, address: str) -> int:
    """:func:`mta.suppression.suppression_key` as of this revision, signed."""
    digest = hashlib.blake2b(address.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    key = int.from_bytes(digest, "big")
    if scope != "global":
        data = scope.encode("utf-8", "surrogatepass")
        scoped = hashlib.blake2b(data, digest_size=8, person=b"acctpipe-scope").digest()
        key ^= int.from_bytes(scoped, "big")
    return key - (1 << 64) if key >= 1 << 63 else key


def _backfill_suppressions(conn: sa.Connection) -> None:
    table = sa.table(
        "suppressions", sa.column("address"), sa.column("scope"), sa.column("lookup_key")
    )
    c = table.c
    after: tuple[str, str] | None = None
    while True:
        query = sa.select(c.address, c.scope).order_by(c.address, c.scope).limit(_BATCH)
        if after is not None:
            query = query.where(sa.tuple_(c.address, c.scope) > sa.tuple_(*after))
        rows = conn.execute(query).all()
        if not rows:
            return
        match = (c.address == sa.bindparam("a")) & (c.scope == sa.bindparam("s"))
        conn.execute(
            sa.update(table).where(match).values(lookup_key=sa.bindparam("k")),
            [{"a": a, "s": s, "k": lookup_key(s, a)} for a, s in rows],
        )
        after = (rows[-1][0], rows[-1][1])


def _backfill_changes(conn: sa.Connection) -> None:
    table = sa.table(
        "suppression_changes",
        sa.column("cursor"),
        sa.column("address"),
        sa.column("scope"),
        sa.column("lookup_key"),
    )
    c = table.c
    after = 0
    while True:
        query = (
            sa.select(c.cursor, c.address, c.scope)
            .where(c.cursor > after)
            .order_by(c.cursor)
            .limit(_BATCH)
        )
        rows = conn.execute(query).all()
        if not rows:
            return
        conn.execute(
            sa.update(table)
            .where(c.cursor == sa.bindparam("n"))
            .values(lookup_key=sa.bindparam("k")),
            [{"n": n, "k": lookup_key(s, a)} for n, a, s in rows],
        )
        after = rows[-1][0]


def upgrade() -> None:
    """Add the key columns and the counts table, and fill both in from the rows there are."""
    op.add_column("suppressions", sa.Column("lookup_key", sa.BigInteger(), nullable=True))
    op.add_column("suppression_changes", sa.Column("lookup_key", sa.BigInteger(), nullable=True))
    op.create_table(
        "suppression_counts",
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("scope_kind", sa.String(8), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reason", "scope_kind", name="pk_suppression_counts"),
    )
    op.drop_index("ix_suppression_changes_address_scope", table_name="suppression_changes")
    op.drop_index("ix_suppressions_expires_at", table_name="suppressions")
    op.create_index(
        "ix_suppressions_expires_at",
        "suppressions",
        ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
        sqlite_where=sa.text("expires_at IS NOT NULL"),
    )
    conn = op.get_bind()
    _backfill_suppressions(conn)
    _backfill_changes(conn)
    conn.execute(
        sa.text(
            "INSERT INTO suppression_counts (reason, scope_kind, n) "
            "SELECT reason, CASE WHEN scope = 'global' THEN 'global' "
            "WHEN scope LIKE 'domain:%' THEN 'domain' ELSE 'list' END AS kind, count(*) "
            "FROM suppressions GROUP BY reason, kind"
        )
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added; the two indexes are as 0001 made them again."""
    op.drop_index("ix_suppressions_expires_at", table_name="suppressions")
    op.create_index("ix_suppressions_expires_at", "suppressions", ["expires_at"])
    op.create_index(
        "ix_suppression_changes_address_scope", "suppression_changes", ["address", "scope"]
    )
    op.drop_table("suppression_counts")
    # Plain ALTER TABLE: PostgreSQL and SQLite (3.35+) drop a column in place, which keeps
    # suppression_changes' AUTOINCREMENT (a batch-mode rebuild would not).
    op.execute("ALTER TABLE suppression_changes DROP COLUMN lookup_key")
    op.execute("ALTER TABLE suppressions DROP COLUMN lookup_key")

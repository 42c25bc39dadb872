"""The write transaction of the webhook tables, on either backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from acctpipe.sqlstore.engine import is_sqlite, write_transaction

__all__ = ["utcnow", "writing"]


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction for writing webhook rows: commit on success, roll back on error.

    SQLite: ``BEGIN IMMEDIATE``, so a transaction that reads before it writes
    waits for the write lock up front instead of failing when it upgrades.
    PostgreSQL: a plain transaction — row locks (``FOR UPDATE SKIP LOCKED``)
    are enough, and the suppression change-log lock is not needed here.
    """
    if is_sqlite(engine):
        with write_transaction(engine) as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn

"""Alembic's environment: how migrations reach the database.

:mod:`acctpipe.sqlstore.migrate` runs them programmatically and hands over a
connection already inside a locked write transaction (``config.attributes
["connection"]``). The ``alembic`` command line (``alembic -c alembic.ini …``
at the repository root, for writing new revisions) gets no connection: then the
URL comes from ``sqlalchemy.url``, or ``ACCTPIPE_DATABASE_URL``, or the default.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from acctpipe.sqlstore.engine import (
    DEFAULT_DATABASE_URL,
    MIGRATION_LOCK,
    make_engine,
    write_transaction,
)
from acctpipe.sqlstore.schema import metadata


def _url() -> str:
    return (
        context.config.get_main_option("sqlalchemy.url")
        or os.environ.get("ACCTPIPE_DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions copy-and-move the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    # `alembic upgrade head --sql`: print the DDL for a DBA instead of running it.
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = make_engine(_url())
    try:
        with write_transaction(engine, lock=MIGRATION_LOCK) as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()

"""Run the Alembic migrations programmatically (no ``alembic.ini`` needed).

The scripts live in the top-level ``migrations/`` folder and ship inside the
package as ``acctpipe.migrations`` (setup.py maps it), so an installed acctpipe
finds them. Every run happens in one write transaction: ``BEGIN IMMEDIATE`` on
SQLite, an advisory lock on PostgreSQL, so two processes starting together do not
both create the tables; and both backends have transactional DDL, so a failed
migration leaves nothing half done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, exc

from acctpipe.errors import SqlStoreError
from acctpipe.sqlstore.engine import (
    MIGRATION_LOCK,
    make_engine,
    redacted,
    sqlite_path,
    write_transaction,
)
from mta.errors import StoreError

__all__ = [
    "SCRIPT_LOCATION",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "migrate",
    "open_database",
]

# The package acctpipe.migrations itself (the top-level migrations/ folder, installed
# inside the package): "acctpipe:migrations" would be a folder inside acctpipe/.
SCRIPT_LOCATION: Final = "acctpipe.migrations:."


def alembic_config(url: str | None = None) -> Config:
    """An Alembic :class:`~alembic.config.Config` for our scripts (and ``url``, if given)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ini interpolation
    return config


def head_revision() -> str:
    """The newest revision the scripts define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migration scripts found in acctpipe.migrations")
    return head


@contextmanager
def _engine(target: str | Engine) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def current_revision(target: str | Engine) -> str | None:
    """The revision the database is at (None: empty, never migrated)."""
    with _engine(target) as engine, engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _run(target: str | Engine, revision: str, *, up: bool) -> None:
    with _engine(target) as engine, write_transaction(engine, lock=MIGRATION_LOCK) as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        if up:
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def migrate(target: str | Engine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL or an engine) to ``revision``."""
    if revision == "head" and current_revision(target) == head_revision():
        return  # the common case, without taking the lock
    _run(target, revision, up=True)


def downgrade(target: str | Engine, revision: str = "base") -> None:
    """Downgrade the database at ``target`` to ``revision`` (``base``: drop everything)."""
    _run(target, revision, up=False)


def open_database(url: str, *, upgrade: bool = True) -> Engine:
    """An engine for ``url``, migrated to head unless ``upgrade`` is false.

    A SQLite file's directory is created if missing. A database that cannot be
    reached or migrated raises :class:`~mta.errors.StoreError` naming the URL
    (password hidden): :class:`~acctpipe.errors.SqlStoreUnavailableError` when it cannot
    be reached.
    """
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if not upgrade:
        return engine
    try:
        migrate(engine)
    except SqlStoreError:  # already names the URL, password hidden
        engine.dispose()
        raise
    except exc.SQLAlchemyError as error:  # not the database's: Alembic's, SQLAlchemy's own
        engine.dispose()
        message = str(error.orig if isinstance(error, exc.DBAPIError) else error)
        raise StoreError(message.strip().splitlines()[0], path=redacted(url)) from error
    return engine

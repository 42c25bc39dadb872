"""The database fixtures every acctpipe test folder uses (defined in sqlstore/fixtures.py).

Imported once here rather than in a conftest per folder: the session-scoped
ones (the migrated SQLite template, the PostgreSQL session database) are then
made once per worker, not once per folder.
"""

from tests.acctpipe.sqlstore.fixtures import (  # noqa: F401 - fixtures are found by name
    db_url,
    empty_db_url,
    engine,
    postgres_server,
    postgres_url,
    sqlite_template,
)

"""Database fixtures for these tests (defined in tests/acctpipe/db/fixtures.py)."""

from tests.acctpipe.db.fixtures import (  # noqa: F401 - fixtures are found by name
    db_url,
    empty_db_url,
    engine,
    postgres_server,
    postgres_url,
    sqlite_template,
)

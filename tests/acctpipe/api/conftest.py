"""Fixtures for these tests (tests/acctpipe/db/fixtures.py and tests/acctpipe/api/fixtures.py)."""

from tests.acctpipe.api.fixtures import (  # noqa: F401 - fixtures are found by name
    Keys,
    app,
    client,
    keys,
    services,
    settings,
)
from tests.acctpipe.db.fixtures import (  # noqa: F401 - fixtures are found by name
    db_url,
    empty_db_url,
    engine,
    postgres_server,
    postgres_url,
    sqlite_template,
)

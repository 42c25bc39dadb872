"""The API fixtures of these tests (defined in fixtures.py; databases come from ../conftest.py)."""

from tests.acctpipe.api.fixtures import (  # noqa: F401 - fixtures are found by name
    Keys,
    app,
    client,
    keys,
    services,
    settings,
)

"""Fixtures for the webhook tests: the databases, and a loopback webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.acctpipe.db.fixtures import (  # noqa: F401 - fixtures are found by name
    db_url,
    empty_db_url,
    engine,
    postgres_server,
    postgres_url,
    sqlite_template,
)
from tests.acctpipe.webhooks._receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (answers 200 unless told otherwise), closed after."""
    with Receiver() as running:
        yield running

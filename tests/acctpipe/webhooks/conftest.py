"""Fixtures for the webhook tests: a loopback webhook receiver (the databases: ../conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.acctpipe.webhooks._receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (answers 200 unless told otherwise), closed after."""
    with Receiver() as running:
        yield running

"""A PostgreSQL server that stops answering (frozen) cannot hang a call: the client cuts it off."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import exc, text

from acctpipe.errors import SqlStoreUnavailableError
from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.deadline import deadline_of
from tests.acctpipe.sqlstore.proxy import FreezableProxy


@pytest.mark.slow
def test_a_call_to_a_frozen_server_fails_within_the_client_deadline(postgres_url: str) -> None:
    """A query to a server frozen mid-session raises within the deadline instead of waiting
    for ever, as SqlStoreUnavailableError (retryable) over SQLAlchemy's OperationalError;
    once the server answers again, the next call works."""
    with FreezableProxy() as proxy:
        # 1 s for a call, 2 s to connect: a frozen server costs at most about both.
        url = proxy.url(postgres_url)
        engine = make_engine(url, call_limit=1.0, connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
            proxy.freeze()
            outcome: list[BaseException | None] = []

            def call() -> None:
                try:
                    with engine.connect() as conn:
                        conn.execute(text("SELECT 2"))
                    outcome.append(None)
                except BaseException as error:  # noqa: BLE001 - reported to the test
                    outcome.append(error)

            started = time.monotonic()
            worker = threading.Thread(target=call, daemon=True)
            worker.start()
            worker.join(10)
            assert not worker.is_alive(), "the call still waits on the frozen server"
            assert time.monotonic() - started < 6
            error = outcome[0]
            assert isinstance(error, SqlStoreUnavailableError)
            assert error.retryable
            assert isinstance(error.original, exc.OperationalError)
            proxy.thaw()
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 3")).scalar() == 3
        finally:
            engine.dispose()


def test_shutdown_shortens_the_deadline(postgres_url: str) -> None:
    """At shutdown a stop waits seconds, not the full deadline, for a server that is gone."""
    engine = make_engine(postgres_url)
    try:
        deadline = deadline_of(engine)
        assert deadline is not None
        assert deadline.limit > 30
        deadline.shorten(2.0)
        assert deadline.limit == pytest.approx(2.0)
    finally:
        engine.dispose()

"""Repeated failures are logged once, then summarised; recovery is one line."""

from __future__ import annotations

import logging

import pytest

from mta.failurelog import FailureLog


def test_an_outage_of_any_length_costs_a_handful_of_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure four times a second for ten minutes: the first with its traceback, one
    summary a minute with the count, one recovery line — not 2,400 lines."""
    clock = [0.0]
    failures = FailureLog(logging.getLogger("t.outage"), "polling", clock=lambda: clock[0])
    with caplog.at_level(logging.INFO, logger="t.outage"):
        for _ in range(2400):
            try:
                raise ConnectionError("server closed the connection")
            except ConnectionError as exc:
                failures.failed(exc)
            clock[0] += 0.25
        failures.succeeded()
        failures.succeeded()  # already well: nothing more
    records = caplog.records
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    summaries = records[1:-1]
    assert len(summaries) == 9
    assert all(r.levelno == logging.WARNING for r in summaries)
    assert "240 failure(s)" in summaries[0].getMessage()
    assert "recovered after 2400 failure(s)" in records[-1].getMessage()
    assert not failures.failing


def test_a_database_error_is_one_line_in_the_log_and_in_last_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that refuses connections gives SQLAlchemy's multi-line error text (with its
    '(Background on this error at: …)' line); the log line and ``last_error`` (which
    /readyz shows) keep its first line only, so every log record stays one line."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    failures = FailureLog(logging.getLogger("t.db"), "following the store", period=0.0)
    with caplog.at_level(logging.INFO, logger="t.db"):
        for _ in range(2):
            with pytest.raises(OperationalError) as info:
                engine.connect()
            assert "\n" in str(info.value)
            failures.failed(info.value)
    assert "\n" not in failures.last_error
    assert "Background on this error" not in failures.last_error
    assert all("\n" not in r.getMessage() for r in caplog.records)

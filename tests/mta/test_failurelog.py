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

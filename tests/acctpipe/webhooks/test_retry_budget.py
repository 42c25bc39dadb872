"""A webhook is retried for at least 24 hours before it is dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine

from acctpipe.webhooks import WebhookWorker
from acctpipe.webhooks._lease import Claimed


class _LowestJitter:
    """A random source that always draws the smallest factor jitter allows."""

    def uniform(self, low: float, high: float) -> float:
        """The lower bound."""
        return low


def test_retry_budget_spans_24_hours_whatever_the_jitter() -> None:
    """With the default schedule a failing message is retried for >= 24 h, then dead."""
    engine = create_engine("sqlite://")
    try:
        worker = WebhookWorker(engine, node="review")
    finally:
        engine.dispose()
    worker._random = _LowestJitter()  # type: ignore[assignment]
    first = now = datetime(2026, 1, 1, tzinfo=UTC)
    worker._clock = lambda: now
    attempts = 0
    while True:
        message = Claimed(1, "msg_x", 1, "{}", attempts, "http://127.0.0.1:9/", ("whsec_x",))
        outcome = worker._outcome(message, now, 1.0, 500, "HTTP 500")
        attempts += 1
        if outcome.verdict != "retry":
            break
        assert outcome.next_attempt_at is not None
        now = outcome.next_attempt_at
    assert outcome.verdict == "dead"
    assert now - first >= timedelta(hours=24)

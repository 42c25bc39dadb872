"""Shared pieces of the worker tests: a hand-moved clock, a tiny schedule, a drain loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from acctpipe.webhooks import WebhookWorker

# Three attempts, 50 ms apart: the whole retry budget in a fraction of a second.
FAST = (timedelta(0), timedelta(seconds=0.05), timedelta(seconds=0.05))


class Clock:
    """A clock the test moves by hand (starts at the real time, so signatures stay fresh)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        """The current (test) time."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta


async def drain(worker: WebhookWorker, done: Callable[[], bool], timeout: float = 10) -> None:
    """Run ``worker`` until ``done()`` holds (AssertionError after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not get there in time")
        await worker.run_once()
        await asyncio.sleep(0.01)

"""A failure that repeats is logged once, then summarised: no log flood during an outage.

Every retry loop that can fail many times a second (the suppression follower
polling a stopped store, the delivery engine retrying a spool move on a full
disk, the accounting writer) reports through a :class:`FailureLog`:

* the first failure is logged at ERROR with its traceback;
* while it goes on, one WARNING line per ``period`` says how many failures
  there were since the last line and what the latest one was;
* the first success after a failure logs one INFO line: recovered, after how
  many failures and how long.

So an outage of any length costs a handful of lines, not one per attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["FailureLog", "one_line"]

_MAX_TEXT = 300  # an error text in a log line or a status field


def one_line(error: BaseException | str) -> str:
    """``error`` as one line a person can read: its first line, cut short (a database
    error's text goes on with hints and a "Background on this error" link)."""
    text = str(error).strip()
    first = text.splitlines()[0].strip() if text else ""
    if not first:
        return type(error).__name__ if isinstance(error, BaseException) else "unknown error"
    return first if len(first) <= _MAX_TEXT else first[:_MAX_TEXT] + "…"


class FailureLog:
    """Log the failures of one repeated operation (``what``) once, then periodically."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.period = period
        self._clock = clock
        self.failures = 0  # since the last success
        self.since: float | None = None  # when the current run of failures began
        self.last_error = ""
        self._unreported = 0
        self._reported_at = 0.0

    @property
    def failing(self) -> bool:
        """True between a failure and the next success."""
        return self.since is not None

    def failed(self, error: BaseException | str) -> None:
        """One more failure: logged with its traceback if it is the first of a run."""
        now = self._clock()
        self.last_error = one_line(error)
        self.failures += 1
        if self.since is None:
            self.since, self._reported_at, self._unreported = now, now, 0
            exc_info = error if isinstance(error, BaseException) else None
            self.logger.error(
                "%s failed: %s (retrying; repeats are summarised every %.0f s)",
                self.what,
                self.last_error,
                self.period,
                exc_info=exc_info,
            )
            return
        self._unreported += 1
        if now - self._reported_at >= self.period:
            self.logger.warning(
                "%s still failing: %d failure(s) in the last %.0f s, %.0f s in all; last: %s",
                self.what,
                self._unreported,
                now - self._reported_at,
                now - self.since,
                self.last_error,
            )
            self._reported_at, self._unreported = now, 0

    def succeeded(self) -> None:
        """The operation worked: one line if it had been failing, then a clean slate."""
        if self.since is None:
            return
        self.logger.info(
            "%s recovered after %d failure(s) over %.1f s",
            self.what,
            self.failures,
            self._clock() - self.since,
        )
        self.failures, self.since, self._unreported, self.last_error = 0, None, 0, ""

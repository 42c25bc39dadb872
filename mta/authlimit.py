"""Failed SMTP AUTH attempts across connections: growing delays, then a lockout.

A per-connection limit alone lets a guesser open a new connection every few
tries. :class:`AuthLimiter` is shared by every connection of the process (the
MTA server gives all its listeners one) and counts failures twice, by client
address and by user name, so neither many connections from one address nor
one user name tried from many addresses gets far::

    limiter = AuthLimiter()
    limiter.locked("192.0.2.7", "app")     # None, or seconds left of a lockout
    verdict = limiter.failure("192.0.2.7", "app")
    verdict.delay                          # wait this long before answering 535
    verdict.locked                         # this failure started a lockout
    limiter.success("192.0.2.7")           # forgets that address's failures only

The n-th failure in a ``window`` waits ``base_delay * 2 ** (n - 1)`` seconds
(at most ``max_delay``), n being the larger of the address's and the user's
count; the ``max_failures``-th locks that address and that user name out for
``window`` seconds. A success clears its own address's count and nothing else:
another address's failures, and the user name's, stand until they expire.

Memory is bounded: each of the two tables keeps at most ``max_keys`` entries,
dropping the least recently failed first, so an attacker trying endless user
names (or addresses) cannot grow it. Sans-IO: the clock is a parameter.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_AUTH_BASE_DELAY",
    "DEFAULT_AUTH_MAX_FAILURES",
    "DEFAULT_AUTH_WINDOW",
    "AuthLimiter",
    "AuthVerdict",
]

DEFAULT_AUTH_MAX_FAILURES: Final = 10
"""Failures (per address, and per user name) in a window before the lockout."""
DEFAULT_AUTH_WINDOW: Final = 900.0
"""Seconds a failure is remembered, and a lockout lasts."""
DEFAULT_AUTH_BASE_DELAY: Final = 0.25
"""Seconds before the first 535; each further failure doubles it (up to 8 s)."""


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    """What one failure means: how long to wait before the 535, and whether it locked out.

    ``by_address`` and ``by_user`` are the failure counts in the window, this one included.
    """

    delay: float
    locked: bool
    by_address: int
    by_user: int


@dataclass(slots=True)
class _Count:
    failures: int
    last: float
    locked_until: float = 0.0


class _Table:
    """Failure counts by key, least recently failed first, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.counts: OrderedDict[str, _Count] = OrderedDict()

    def get(self, key: str, now: float, window: float) -> _Count | None:
        count = self.counts.get(key)
        if count is not None and now - count.last >= window and now >= count.locked_until:
            del self.counts[key]  # expired
            return None
        return count

    def bump(self, key: str, now: float, window: float) -> _Count:
        count = self.get(key, now, window)
        if count is None:
            count = self.counts[key] = _Count(0, now)
        count.failures += 1
        count.last = now
        self.counts.move_to_end(key)
        while len(self.counts) > self.size:
            self.counts.popitem(last=False)
        return count


class AuthLimiter:
    """Failed-AUTH counts by client address and by user name, shared by all connections."""

    def __init__(
        self,
        *,
        max_failures: int = DEFAULT_AUTH_MAX_FAILURES,
        window: float = DEFAULT_AUTH_WINDOW,
        base_delay: float = DEFAULT_AUTH_BASE_DELAY,
        max_delay: float = 8.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._addresses = _Table(max_keys)
        self._users = _Table(max_keys)

    def __len__(self) -> int:
        """How many addresses and user names are remembered (bounded by ``2 * max_keys``)."""
        return len(self._addresses.counts) + len(self._users.counts)

    def locked(self, address: str, user: str | None = None) -> float | None:
        """Seconds left of a lockout of ``address`` (or of ``user``), or None if neither is."""
        now = self._clock()
        left = 0.0
        for table, key in ((self._addresses, address), (self._users, _user_key(user))):
            count = table.get(key, now, self.window) if key is not None else None
            if count is not None and count.locked_until > now:
                left = max(left, count.locked_until - now)
        return left or None

    def failure(self, address: str, user: str) -> AuthVerdict:
        """Count a failed AUTH from ``address`` as ``user``; say how to answer it."""
        now = self._clock()
        by_address = self._addresses.bump(address, now, self.window)
        by_user = self._users.bump(_user_key(user) or "", now, self.window)
        worst = max(by_address.failures, by_user.failures)
        locked = False
        for count in (by_address, by_user):
            if count.failures >= self.max_failures and count.locked_until <= now:
                count.locked_until = now + self.window
                locked = True
        delay = min(self.max_delay, self.base_delay * 2 ** min(worst - 1, 32))
        return AuthVerdict(delay, locked, by_address.failures, by_user.failures)

    def success(self, address: str) -> None:
        """A good AUTH from ``address``: forget that address's failures (only those)."""
        self._addresses.counts.pop(address, None)


def _user_key(user: str | None) -> str | None:
    # One count per user name however it is cased: the guesser chooses the spelling.
    return user.casefold() if user is not None else None

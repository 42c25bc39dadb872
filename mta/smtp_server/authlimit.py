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

An IPv6 client is counted by its /64 (one subscriber's share, whose addresses
it may use at will); an IPv4 client by its address.

Memory is bounded: each of the two tables keeps at most ``max_keys`` counting
entries, dropping the least recently failed first, and ``max_keys`` lockouts
apart from them (the oldest dropped first), so an attacker trying endless user
names (or addresses) can neither grow it nor push a lockout in force out of it.
Sans-IO: the clock is a parameter.
"""

from __future__ import annotations

import ipaddress
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
    "client_key",
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
    """Failure counts by key, at most ``size`` counting and ``size`` locked out.

    Locked entries are kept apart: a guesser who fails with ``size`` fresh names (or
    addresses) pushes out the least recently failed counts, never a lockout in force.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.counts: OrderedDict[str, _Count] = OrderedDict()  # least recently failed first
        self.locks: OrderedDict[str, _Count] = OrderedDict()  # soonest to end first

    def __len__(self) -> int:
        return len(self.counts) + len(self.locks)

    def get(self, key: str, now: float, window: float) -> _Count | None:
        table = self.locks if key in self.locks else self.counts
        count = table.get(key)
        if count is not None and now - count.last >= window and now >= count.locked_until:
            del table[key]  # expired
            return None
        return count

    def bump(self, key: str, now: float, window: float) -> _Count:
        count = self.get(key, now, window)
        if count is None:
            count = self.counts[key] = _Count(0, now)
        count.failures += 1
        count.last = now
        if key in self.counts:
            self.counts.move_to_end(key)
            while len(self.counts) > self.size:
                self.counts.popitem(last=False)
        return count

    def lock(self, key: str, until: float) -> None:
        count = self.counts.pop(key, None) or self.locks.pop(key)
        count.locked_until = until
        self.locks[key] = count
        while len(self.locks) > self.size:
            self.locks.popitem(last=False)

    def forget(self, key: str) -> None:
        self.counts.pop(key, None)  # a lockout in force stays


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
        return len(self._addresses) + len(self._users)

    def locked(self, address: str, user: str | None = None) -> float | None:
        """Seconds left of a lockout of ``address`` (or of ``user``), or None if neither is."""
        now = self._clock()
        left = 0.0
        keys = ((self._addresses, client_key(address)), (self._users, _user_key(user)))
        for table, key in keys:
            count = table.get(key, now, self.window) if key is not None else None
            if count is not None and count.locked_until > now:
                left = max(left, count.locked_until - now)
        return left or None

    def failure(self, address: str, user: str) -> AuthVerdict:
        """Count a failed AUTH from ``address`` as ``user``; say how to answer it."""
        now = self._clock()
        address, user = client_key(address), _user_key(user) or ""
        by_address = self._addresses.bump(address, now, self.window)
        by_user = self._users.bump(user, now, self.window)
        worst = max(by_address.failures, by_user.failures)
        locked = False
        for table, key, count in (
            (self._addresses, address, by_address),
            (self._users, user, by_user),
        ):
            if count.failures >= self.max_failures and count.locked_until <= now:
                table.lock(key, now + self.window)
                locked = True
        delay = min(self.max_delay, self.base_delay * 2 ** min(worst - 1, 32))
        return AuthVerdict(delay, locked, by_address.failures, by_user.failures)

    def success(self, address: str) -> None:
        """A good AUTH from ``address``: forget that address's failures (only those)."""
        self._addresses.forget(client_key(address))


def client_key(address: str) -> str:
    """The client ``address`` is counted as: IPv4 as it is, IPv6 by its /64 (one subscriber
    gets a whole /64 and can use any address in it); anything else as it is."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _user_key(user: str | None) -> str | None:
    # One count per user name however it is cased: the guesser chooses the spelling.
    return user.casefold() if user is not None else None

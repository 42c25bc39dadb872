"""What the simulator saw, per client IP: the evidence that a sender honoured its throttles.

:class:`Counters` is written by the server's event loop and read from any thread
(tests, the CLI) at any time; :meth:`Counters.snapshot` returns frozen
:class:`IpStats` values. ``accepted_at`` holds the ``time.monotonic()`` instant of
every accepted message, so a test can check a rate with :meth:`IpStats.max_in_window`.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Counters", "IpStats", "reply_key"]


def reply_key(reply: str) -> str:
    """The counting key of a reply: its code and enhanced status (``"421 4.7.0"``)."""
    parts = reply.split(None, 2)
    if len(parts) >= 2 and parts[1][:1].isdigit() and parts[1].count(".") == 2:
        return f"{parts[0][:3]} {parts[1]}"
    return reply[:3]


@dataclass(frozen=True, slots=True)
class IpStats:
    """Everything counted for one client IP (a frozen copy; take another to refresh)."""

    ip: str
    connections_opened: int = 0
    concurrent: int = 0
    max_concurrent: int = 0
    messages_accepted: int = 0
    recipients_accepted: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)  # "550 5.1.1" → count
    dropped: int = 0  # connections hung up on purpose (fault injection)
    tls_sessions: int = 0
    accepted_at: tuple[float, ...] = ()

    def rejected_with(self, code: int | str) -> int:
        """Replies refused with this code (``421``) or code and status (``"421 4.7.0"``)."""
        want = str(code)
        return sum(n for key, n in self.rejected.items() if key == want or key[:3] == want)

    def max_in_window(self, seconds: float) -> int:
        """The most messages accepted within any window of ``seconds`` (a sliding window)."""
        times = self.accepted_at
        best = 0
        for i, start in enumerate(times):
            best = max(best, bisect.bisect_right(times, start + seconds - 1e-9, lo=i) - i)
        return best


@dataclass(slots=True)
class _Ip:
    opened: int = 0
    concurrent: int = 0
    max_concurrent: int = 0
    accepted: int = 0
    recipients: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    tls: int = 0
    accepted_at: list[float] = field(default_factory=list)


class Counters:
    """Thread-safe per-IP counters (one lock; every update is a few integer operations)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ips: dict[str, _Ip] = {}

    def _ip(self, ip: str) -> _Ip:
        entry = self._ips.get(ip)
        if entry is None:
            entry = self._ips[ip] = _Ip()
        return entry

    def opened(self, ip: str) -> None:
        """A TCP connection from ``ip`` was accepted (counted before any refusal)."""
        with self._lock:
            e = self._ip(ip)
            e.opened += 1
            e.concurrent += 1
            e.max_concurrent = max(e.max_concurrent, e.concurrent)

    def closed(self, ip: str) -> None:
        """A connection from ``ip`` ended."""
        with self._lock:
            self._ip(ip).concurrent -= 1

    def rejected(self, ip: str, reply: str) -> None:
        """A command (or the connection) from ``ip`` got a 4xx/5xx ``reply``."""
        with self._lock:
            self._ip(ip).rejected[reply_key(reply)] += 1

    def accepted(self, ip: str, recipients: int, at: float) -> None:
        """A message for ``recipients`` recipients was accepted at monotonic time ``at``."""
        with self._lock:
            e = self._ip(ip)
            e.accepted += 1
            e.recipients += recipients
            e.accepted_at.append(at)

    def dropped(self, ip: str) -> None:
        """The simulator hung up on ``ip`` on purpose."""
        with self._lock:
            self._ip(ip).dropped += 1

    def tls(self, ip: str) -> None:
        """A connection from ``ip`` completed STARTTLS."""
        with self._lock:
            self._ip(ip).tls += 1

    def for_ip(self, ip: str) -> IpStats:
        """The stats of one IP (all zero if it never connected)."""
        with self._lock:
            e = self._ips.get(ip)
            return _freeze(ip, e) if e is not None else IpStats(ip)

    def snapshot(self) -> dict[str, IpStats]:
        """The stats of every IP seen so far."""
        with self._lock:
            return {ip: _freeze(ip, e) for ip, e in sorted(self._ips.items())}

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._ips.clear()


def _freeze(ip: str, e: _Ip) -> IpStats:
    return IpStats(
        ip,
        e.opened,
        e.concurrent,
        e.max_concurrent,
        e.accepted,
        e.recipients,
        dict(e.rejected),
        e.dropped,
        e.tls,
        tuple(e.accepted_at),
    )

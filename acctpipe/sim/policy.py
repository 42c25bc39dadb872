"""The receiver's decisions, without I/O: connect, MAIL, RCPT and fault injection.

:class:`IspPolicy` is a small state object driven by the SMTP glue: each method
takes the client IP (and the time, from the caller's clock) and returns the reply
to give, or ``None`` to carry on. It holds the per-IP token buckets, the open
connection counts and the greylist; it is not thread-safe and lives on the
server's event loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from acctpipe.sim.profile import IspProfile, render_reply, reply_for
from mta.config.values import Rate

__all__ = ["IspPolicy", "TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """A token bucket: ``capacity`` tokens, refilled at ``per_second``; starts full."""

    capacity: float
    per_second: float
    tokens: float
    updated: float

    @classmethod
    def for_rate(cls, rate: Rate, burst: int | None, now: float) -> TokenBucket:
        """A full bucket for ``rate``; capacity ``burst`` or else the rate's count (≥ 1)."""
        capacity = float(burst) if burst is not None else max(1.0, rate.count)
        return cls(capacity, rate.per_second, capacity, now)

    def take(self, now: float) -> bool:
        """Spend one token if there is one; refill first for the time elapsed."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class IspPolicy:
    """Per-IP limits, block list, address checks and greylisting for one profile."""

    def __init__(self, profile: IspProfile) -> None:
        self.profile = profile
        self._open: dict[str, int] = {}
        self._conn_buckets: dict[str, TokenBucket] = {}
        self._msg_buckets: dict[str, TokenBucket] = {}
        self._greylist: dict[tuple[str, str, str], float] = {}
        # Fault injection must be reproducible run to run, not unpredictable.
        self._rng = random.Random(profile.seed)  # noqa: S311 - not for security

    def _reply(self, template: str, **values: object) -> str:
        return render_reply(template, hostname=self.profile.hostname, **values)

    def connect(self, ip: str, now: float) -> str | None:
        """A client connected: the refusal to send instead of the banner, or ``None``.

        Every connection counts as open until :meth:`disconnect`, refused or not.
        """
        p = self.profile
        self._open[ip] = self._open.get(ip, 0) + 1
        if p.block_stage == "connect" and p.is_blocked(ip):
            return self._reply(p.replies.blocked, ip=ip)
        if p.max_connections_per_ip is not None and self._open[ip] > p.max_connections_per_ip:
            return self._reply(p.replies.too_many_connections, ip=ip)
        if p.connection_rate is not None:
            bucket = self._conn_buckets.get(ip)
            if bucket is None:
                bucket = TokenBucket.for_rate(p.connection_rate, p.connection_burst, now)
                self._conn_buckets[ip] = bucket
            if not bucket.take(now):
                return self._reply(p.replies.connection_rate, ip=ip)
        return None

    def disconnect(self, ip: str) -> None:
        """A connection from ``ip`` closed."""
        left = self._open.get(ip, 0) - 1
        if left > 0:
            self._open[ip] = left
        else:
            self._open.pop(ip, None)

    def mail(self, ip: str, sender: str, now: float) -> str | None:
        """MAIL FROM: the per-IP message rate (one token per transaction)."""
        p = self.profile
        if p.message_rate is None:
            return None
        bucket = self._msg_buckets.get(ip)
        if bucket is None:
            bucket = TokenBucket.for_rate(p.message_rate, p.message_burst, now)
            self._msg_buckets[ip] = bucket
        if bucket.take(now):
            return None
        return self._reply(p.replies.message_rate, ip=ip, sender=sender)

    def rcpt(self, ip: str, sender: str, rcpt: str, now: float) -> str | None:
        """RCPT TO: block list (rcpt stage), rcpt_replies, unknown user, full mailbox, greylist."""
        p = self.profile
        values = {"ip": ip, "sender": sender, "rcpt": rcpt}
        if p.block_stage == "rcpt" and p.is_blocked(ip):
            return self._reply(p.replies.blocked, **values)
        if (template := reply_for(p.rcpt_replies, rcpt)) is not None:
            return self._reply(template, **values)
        if p.is_unknown_user(rcpt):
            return self._reply(p.replies.unknown_user, **values)
        if p.is_mailbox_full(rcpt):
            return self._reply(p.replies.mailbox_full, **values)
        if p.greylist_delay is not None:
            key = (ip, sender.lower(), rcpt.lower())
            first = self._greylist.setdefault(key, now)
            if now - first < p.greylist_delay:
                delay = f"{p.greylist_delay - (now - first):.0f}"
                return self._reply(p.replies.greylisted, delay=delay, **values)
        return None

    def data(self, ip: str, sender: str, rcpts: list[str]) -> str | None:
        """End of DATA: the first ``data_replies`` rule matching any recipient, or ``None``."""
        for rcpt in rcpts:
            if (template := reply_for(self.profile.data_replies, rcpt)) is not None:
                return self._reply(template, ip=ip, sender=sender, rcpt=rcpt)
        return None

    def should_drop(self, commands_seen: int) -> bool:
        """Whether to hang up now, having read ``commands_seen`` commands on this connection."""
        after = self.profile.drop_after_commands
        if after is None or commands_seen < after:
            return False
        return self._rng.random() < self.profile.drop_probability

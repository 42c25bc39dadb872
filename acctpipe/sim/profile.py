"""What a simulated receiver does: an ISP profile is one frozen value, built once.

A profile says which limits the receiver enforces (per client IP), which
addresses it refuses, how slow and how unreliable it is, and the exact wording
of every reply it gives. Reply templates may use ``{ip}``, ``{sender}``,
``{rcpt}``, ``{queue_id}``, ``{hostname}``, ``{delay}`` and ``{timestamp}``;
each starts with a reply code and an RFC 3463 enhanced status (``"550 5.1.1 …"``).
A reply whose code is 421 also closes the connection (RFC 5321 §3.8).
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from mta.config.values import Rate
from mta.errors import InvalidRuleError

__all__ = ["BlockStage", "IspProfile", "Replies", "render_reply", "reply_for"]

BlockStage = Literal["connect", "rcpt"]


@dataclass(frozen=True, slots=True)
class Replies:
    """The receiver's own wording for each outcome (an ISP is recognised by its texts)."""

    banner: str = "ESMTP ready"
    accepted: str = "250 2.0.0 OK {queue_id}"
    too_many_connections: str = "421 4.7.0 Too many connections from {ip}, try again later"
    connection_rate: str = "421 4.7.0 Too many connections from {ip}, try again later"
    message_rate: str = "450 4.7.28 Rate limit exceeded for {ip}, try again later"
    unknown_user: str = "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
    mailbox_full: str = "452 4.2.2 <{rcpt}>: Mailbox full"
    blocked: str = (
        "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org"
    )
    greylisted: str = "451 4.7.1 <{rcpt}>: Greylisted, please try again in {delay} seconds"


@dataclass(frozen=True, slots=True)
class IspProfile:
    """One simulated receiver's behaviour; every limit is per client (source) IP.

    ``None`` switches a limit off. Rates are token buckets holding ``*_burst``
    tokens (default: the rate's count) refilled at the rate. Local-part patterns
    are shell globs (``unknown*``), matched case-insensitively.
    """

    name: str
    hostname: str = "mx.sim.test"
    replies: Replies = field(default_factory=Replies)
    banner_delay: float = 0.0  # seconds before the 220 greeting
    data_delay: float = 0.0  # seconds before the reply to the message data
    max_connections_per_ip: int | None = None
    connection_rate: Rate | None = None
    connection_burst: int | None = None
    message_rate: Rate | None = None
    message_burst: int | None = None
    unknown_users: frozenset[str] = frozenset()  # whole addresses or local parts
    unknown_patterns: tuple[str, ...] = ("unknown*",)
    full_patterns: tuple[str, ...] = ("full*",)
    # (local-part glob, reply): any other refusal a receiver gives, by recipient;
    # rcpt_replies answer RCPT TO (checked after the block list, before unknown
    # users), data_replies answer the end of DATA when any recipient matches
    # (a content or policy rejection of the message itself).
    rcpt_replies: tuple[tuple[str, str], ...] = ()
    data_replies: tuple[tuple[str, str], ...] = ()
    blocked_networks: tuple[str, ...] = ()  # "127.0.0.9" or "127.0.0.0/8"
    block_stage: BlockStage = "connect"
    greylist_delay: float | None = None  # None: no greylisting
    drop_after_commands: int | None = None  # None: never drop
    drop_probability: float = 1.0
    seed: int = 0
    max_message_size: int = 35 * 1024 * 1024
    starttls: bool = True

    def __post_init__(self) -> None:
        for net in self.blocked_networks:
            ipaddress.ip_network(net, strict=False)  # raises ValueError on a bad entry
        if not 0.0 <= self.drop_probability <= 1.0:
            raise InvalidRuleError(
                f"drop_probability must be within 0..1, got {self.drop_probability}"
            )

    def is_blocked(self, ip: str) -> bool:
        """Whether the client IP is on this receiver's block list."""
        addr = ipaddress.ip_address(ip)
        return any(addr in ipaddress.ip_network(n, strict=False) for n in self.blocked_networks)

    def is_unknown_user(self, rcpt: str) -> bool:
        """Whether the recipient does not exist here (explicit set or local-part pattern)."""
        address = rcpt.lower()
        local = address.rpartition("@")[0] or address
        if address in self.unknown_users or local in self.unknown_users:
            return True
        return any(fnmatch.fnmatchcase(local, p.lower()) for p in self.unknown_patterns)

    def is_mailbox_full(self, rcpt: str) -> bool:
        """Whether the recipient's mailbox is over quota (local-part pattern)."""
        local = rcpt.lower().rpartition("@")[0] or rcpt.lower()
        return any(fnmatch.fnmatchcase(local, p.lower()) for p in self.full_patterns)


def reply_for(rules: tuple[tuple[str, str], ...], rcpt: str) -> str | None:
    """The reply template of the first ``(glob, reply)`` rule matching the local part."""
    local = rcpt.lower().rpartition("@")[0] or rcpt.lower()
    for pattern, reply in rules:
        if fnmatch.fnmatchcase(local, pattern.lower()):
            return reply
    return None


def render_reply(template: str, **values: object) -> str:
    """Fill a reply template; an unknown ``{name}`` is left as written, never an error."""

    class _Keep(dict[str, object]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep(values))

"""What the running MTA reports about itself: frozen snapshots, and who can give them.

The management endpoint (:mod:`mta.mgmt.app`) serves these as JSON, in the spirit of
PowerMTA's http-mgmt-port; the API of the product mounts the same endpoint. A
snapshot is a copy: taking one never blocks delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

__all__ = ["ListenerStatus", "MtaStatus", "QueueStatus", "StatusProvider"]


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """One delivery queue: a destination (domain or ``queue-to`` name) through one vmta."""

    queue: str
    vmta: str
    queued: int  # messages waiting (ready now or deferred)
    deferred: int  # of which waiting for a retry time
    connections: int  # open outbound SMTP connections
    max_smtp_out: int  # this process's share (smtp-workers) of total_max_smtp_out
    msg_rate: float  # messages per second allowed now (after warmup, backoff, overrides; share)
    configured_msg_rate: float  # max-msg-rate as configured (inf: unlimited)
    delivered: int
    bounced: int
    transient_failures: int
    backoff: bool  # in backoff mode (an smtp-pattern-list matched, or an override)
    backoff_until: datetime | None
    paused: bool
    last_reply: str = ""
    last_error: str = ""
    override: str = ""  # why a live throttle override is in force ("" when none)
    held_until: datetime | None = None  # paused by an override until then
    total_max_smtp_out: int = 0  # max-smtp-out in force for the whole MTA (every worker)
    total_msg_rate: float = 0.0  # msg_rate for the whole MTA (every worker)
    workers: int = 1  # smtp-workers processes sharing these limits


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    """One SMTP listener."""

    address: str
    port: int
    connections: int
    accepted: int
    rejected: int


@dataclass(frozen=True, slots=True)
class MtaStatus:
    """The whole MTA at one instant."""

    host_name: str
    started_at: datetime
    now: datetime
    config_files: tuple[str, ...]
    config_loaded_at: datetime
    spool: dict[str, int]  # state → message count
    listeners: tuple[ListenerStatus, ...] = ()
    queues: tuple[QueueStatus, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)  # delivered, bounced, deferred, …


class StatusProvider(Protocol):
    """The running MTA as the management endpoint sees it."""

    def status(self) -> MtaStatus:
        """A snapshot of everything."""
        ...

    def pause(self, queue: str, vmta: str | None = None) -> int:
        """Stop delivering a queue (every vmta when ``vmta`` is None); return queues paused."""
        ...

    def resume(self, queue: str, vmta: str | None = None) -> int:
        """Resume paused queues and leave backoff; return the number of queues resumed."""
        ...

    def reload(self) -> str:
        """Reload the configuration (validated first); return what happened, one line."""
        ...

"""The values the feedback loop passes around: events in, decisions out.

An :class:`Event` is one ingested accounting row as the policies see it (the
DuckDB ``events`` columns they need). A :class:`SuppressionDecision` says an
address should be suppressed (or released) and why; a
:class:`ThrottleDecision` says how a (queue, vmta) pair should be slowed,
paused or ramped, with the evidence. Every decision carries the ids of the
events that caused it, so it can be explained later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mta.suppression import SuppressionReason

__all__ = [
    "Event",
    "SuppressionDecision",
    "SuppressionReason",
    "ThrottleAction",
    "ThrottleDecision",
]

ThrottleAction = Literal["slow", "pause", "ramp", "normal"]


@dataclass(frozen=True, slots=True)
class Event:
    """One accounting record, as the policies read it.

    ``event_id`` identifies the row for evidence (``"FILE_ID:OFFSET"`` from the
    DuckDB store); ``cls`` is the bounce class (hard, soft, spam, complaint,
    unknown; empty for deliveries); ``queue`` falls back to the recipient domain;
    ``fault`` says whose fault a failure is (recipient, sender, our-host, network,
    content, unknown; empty when not known, e.g. a row ingested before schema 4).
    """

    event_id: str
    type: str  # d, b, t, tq, rb, rs, f
    time: datetime  # timezone-aware
    rcpt: str = ""
    sender: str = ""
    cls: str = ""
    category: str = ""
    status: str = ""
    diag: str = ""
    queue: str = ""
    vmta: str = ""
    job_id: str = ""
    fault: str = ""


@dataclass(frozen=True, slots=True)
class SuppressionDecision:
    """Suppress ``address`` in ``scope`` (or lift it, with ``remove``) — and why."""

    address: str  # normalised
    scope: str  # "global", "domain:sender.example", "list:newsletter"
    reason: SuppressionReason
    event_ids: tuple[str, ...]
    decided_at: datetime
    expires_at: datetime | None = None  # None: for good
    notify: bool = False  # a complaint: tell the CRM (webhooks)
    remove: bool = False
    detail: str = ""  # one line a person can read ("5 soft bounces in 7 days")


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """What the controller wants for one (queue, vmta) pair, until ``expires_at``.

    ``rate`` is messages per second (None: leave the configured rate);
    ``max_smtp_out`` caps connections (None: leave it); ``pause`` stops the pair
    until ``expires_at``. ``evidence`` holds the counts that triggered the rule
    and ``event_ids`` the events counted: every one of them, or the newest
    ``sample`` (the policy setting) when the rule counted more.
    """

    queue: str
    vmta: str
    action: ThrottleAction
    rule: str
    decided_at: datetime
    expires_at: datetime
    rate: float | None = None
    max_smtp_out: int | None = None
    evidence: dict[str, float] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()
    detail: str = ""

    def events_caption(self) -> str:
        """How ``event_ids`` relate to the count: "events" when they are all the events
        counted, "the newest 5 of 290 events" when the rule counted more than it lists."""
        counted = self.evidence.get("count", self.evidence.get("matched"))
        if counted is not None and len(self.event_ids) < counted:
            return f"the newest {len(self.event_ids)} of {counted:g} events"
        return "events"

"""Builders for policy tests: events at given seconds after a fixed, timezone-aware start."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from acctpipe.policy.throttle import PairBounds
from acctpipe.policy.types import Event

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
_IDS = itertools.count()


def at(seconds: float) -> datetime:
    """The moment ``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


def event(
    type_: str, seconds: float = 0.0, reply: Mapping[str, str] | None = None, **fields: str
) -> Event:
    """One event of ``type_`` at T0 + ``seconds`` (``reply``'s fields, then ``fields``).

    The id is fresh unless ``event_id`` is given.
    """
    merged = {**(reply or {}), **fields}
    event_id = merged.pop("event_id", None) or f"acct.csv:{next(_IDS)}"
    return Event(event_id=event_id, type=type_, time=at(seconds), **merged)


def bounds(
    ceiling: float = 30.0,
    *,
    adaptive: bool = True,
    backoff_min: float = 30.0,
    backoff_max: float = 3600.0,
    scale_factor: float = 1.5,
) -> PairBounds:
    """Pair bounds with test-friendly defaults (30 msg/s, adaptive, 30 s .. 1 h backoff)."""
    return PairBounds(ceiling, adaptive, backoff_min, backoff_max, scale_factor)


# Replies as the accounting file carries them, with the class and category the
# default classifier table gives each (see classifiers/rules/default.toml).
DEFER_421 = {
    "status": "4.7.0",
    "diag": "smtp;421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred",
    "cls": "spam",
    "category": "spam-related",
}
GMAIL_4728 = {
    "status": "4.7.28",
    "diag": "smtp;450 4.7.28 [192.0.2.1] Our system has detected an unusual rate of "
    "unsolicited mail originating from your IP address.",
    "cls": "spam",
    "category": "spam-related",
}
RATE_LIMIT_TEXT = {
    "status": "4.3.2",
    "diag": "smtp;451 4.3.2 Rate limit exceeded, try again later",
    "cls": "soft",
    "category": "policy-related",
}
BARE_421 = {
    "status": "",
    "diag": "smtp;421 Service not available, closing transmission channel",
    "cls": "soft",
    "category": "no-answer-from-host",
}
BLOCKED_554 = {
    "status": "5.7.1",
    "diag": "smtp;554 5.7.1 [192.0.2.1] Messages from this IP address are blocked "
    "(listed on a blocklist).",
    "cls": "spam",
    "category": "spam-related",
}
QUEUE_BLOCKED = {
    "status": "4.7.0",
    "diag": "smtp;421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to "
    "user complaints",
    "cls": "spam",
    "category": "spam-related",
}

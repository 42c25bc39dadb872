"""One (queue, vmta) pair as the throttle controller sees it: bounds, windows, control state.

:class:`PairBounds` is what the MTA's configuration allows (built from
``DomainSettings``); :class:`PairState` holds the pair's bounded windows of recent
events and what the controller last told the MTA about it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from acctpipe.policy._throttle_rules import ThrottleRules
from acctpipe.policy._windows import Counts, Sample
from acctpipe.policy.types import ThrottleDecision
from mta.config.model import DomainSettings
from mta.config.values import Rate
from mta.delivery.throttle import effective_rate

__all__ = ["PairBounds", "PairState"]


@dataclass(frozen=True, slots=True)
class PairBounds:
    """The configured limits of one pair, within which the controller may move.

    ``ceiling`` is msg/s (``inf`` when unlimited): the configured ``max-msg-rate``,
    or the warmup's rate of the day when lower. ``adaptive`` is the pair's
    ``adaptive-throttling``; ``backoff_min``/``backoff_max`` (seconds) and
    ``scale_factor`` shape pauses.
    """

    ceiling: float
    adaptive: bool
    backoff_min: float
    backoff_max: float
    scale_factor: float

    @classmethod
    def from_settings(cls, settings: DomainSettings, warmup: Rate | None = None) -> PairBounds:
        """Bounds from ``effective_settings(config, domain, vmta).settings``.

        ``warmup`` is the warmup's rate of the day (``mta.delivery.throttle.warmup_rate``) when
        the pair has a warmup schedule; the ceiling is the stricter of the two.
        """
        return cls(
            ceiling=effective_rate(settings.max_msg_rate, warmup).per_second,
            adaptive=settings.adaptive_throttling,
            backoff_min=settings.backoff_min,
            backoff_max=settings.backoff_max,
            scale_factor=settings.backoff_scale_factor,
        )


@dataclass(slots=True)
class PairState:
    """A pair's windows (per rule: matches, ratio volume, id sample) and control state.

    Times are epoch seconds. ``rate`` is the override in force (None: the configured
    rate); ``reference`` is what a ramp climbs back to when the ceiling is unlimited
    (the rate the pair ran at before its first slow).
    """

    matched: list[Counts]
    volume: list[Counts | None]
    samples: list[Sample]
    attempts: Counts
    decisions: deque[ThrottleDecision]
    last_bad: float = -math.inf  # the newest event that matched a slow or pause rule
    rate: float | None = None
    reference: float = math.inf
    override_until: float = -math.inf
    paused_until: float = -math.inf
    pause_level: int = 0
    last_action: float = -math.inf
    bounds: PairBounds | None = None
    dirty: bool = field(default=False)

    @classmethod
    def empty(cls, rules: ThrottleRules) -> PairState:
        """A pair with no events and no decisions yet."""
        settings = rules.settings
        return cls(
            matched=[Counts(rule.window) for rule in rules.rules],
            volume=[None if rule.ratio is None else Counts(rule.window) for rule in rules.rules],
            samples=[Sample(settings.sample, Counts(rule.window).width) for rule in rules.rules],
            attempts=Counts(settings.rate_window),
            decisions=deque(maxlen=settings.history),
        )

    def forget_control(self) -> None:
        """Drop the override, pause and backoff level (the MTA has dropped them too)."""
        self.rate, self.reference = None, math.inf
        self.override_until = self.paused_until = -math.inf
        self.pause_level = 0

    def prune(self, now: float, rules: ThrottleRules) -> None:
        """Forget what fell out of every window by ``now``."""
        for rule, counts, volume, sample in zip(
            rules.rules, self.matched, self.volume, self.samples, strict=True
        ):
            counts.prune(now - rule.window)
            sample.prune(now - rule.window)
            if volume is not None:
                volume.prune(now - rule.window)
        self.attempts.prune(now - rules.settings.rate_window)

    def is_idle(self) -> bool:
        """Nothing left to count and nothing in force: the pair can be forgotten."""
        return (
            self.rate is None
            and self.pause_level == 0
            and not len(self.attempts)
            and not any(len(c) for c in self.matched)
            and not any(len(v) for v in self.volume if v is not None)
        )

    def size(self) -> int:
        """Buckets and sampled ids held: what memory the pair costs, in cells."""
        return (
            len(self.attempts)
            + sum(len(c) for c in self.matched)
            + sum(len(v) for v in self.volume if v is not None)
            + sum(len(s) for s in self.samples)
            + len(self.decisions)
        )

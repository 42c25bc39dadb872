"""What a rule does to a pair: thresholds tested, and slow / pause / ramp computed.

Pure functions over one :class:`~acctpipe.policy._pair.PairState` (changed in place
when a rule acts) that return the :class:`~acctpipe.policy.types.ThrottleDecision`
to publish. Rates are msg/s, times epoch seconds; the controller
(:mod:`acctpipe.policy.throttle`) supplies both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from acctpipe.policy._pair import PairBounds, PairState
from acctpipe.policy._throttle_rules import ThrottleRule, ThrottleRules
from acctpipe.policy._windows import pick
from acctpipe.policy.types import ThrottleAction, ThrottleDecision

__all__ = ["Moment", "fired", "pause", "ramp", "slow"]


@dataclass(frozen=True, slots=True)
class Moment:
    """One evaluation: the pair, its bounds, the time (both forms) and the table."""

    queue: str
    vmta: str
    pair: PairState
    shared: PairState | None  # the (queue, "") pair: rows that named no vmta
    bounds: PairBounds
    now: datetime
    t: float
    rules: ThrottleRules

    @property
    def floor(self) -> float:
        """The lowest rate we set: the configured floor, or the ceiling when that is lower."""
        return min(self.rules.settings.floor, self.bounds.ceiling)

    def clamp(self, rate: float) -> float:
        """``rate`` kept within [floor, ceiling]."""
        return min(self.bounds.ceiling, max(self.floor, rate))

    def matched(self, index: int, since: float) -> int:
        """Events matching rule ``index`` since ``since`` and the pair's last decision."""
        after = self.pair.last_action
        total = self.pair.matched[index].total(since, self.t, after)
        if self.shared is not None:
            total += self.shared.matched[index].total(since, self.t, after)
        return total

    def sample(self, index: int, since: float) -> tuple[str, ...]:
        """The ids of the events :meth:`matched` counted (the newest ``sample`` of them
        when there were more), oldest first."""
        samples = [self.pair.samples[index]]
        if self.shared is not None:
            samples.append(self.shared.samples[index])
        span = self.pair.matched[index].span(since, self.t, self.pair.last_action)
        return pick(samples, span, self.rules.settings.sample)

    def decision(
        self,
        action: ThrottleAction,
        rule: ThrottleRule,
        evidence: dict[str, float],
        event_ids: tuple[str, ...],
        detail: str,
        *,
        rate: float | None = None,
        seconds: float | None = None,
    ) -> ThrottleDecision:
        """A decision stamped now, lasting ``seconds`` (else the rule's duration), remembered."""
        lasts = rule.duration if seconds is None else seconds
        made = ThrottleDecision(
            queue=self.queue,
            vmta=self.vmta,
            action=action,
            rule=rule.id,
            decided_at=self.now,
            expires_at=self.now + timedelta(seconds=lasts or 0.0),
            rate=rate,
            evidence=evidence,
            event_ids=event_ids,
            detail=detail,
        )
        self.pair.decisions.append(made)
        self.pair.last_action = self.t
        return made


def fired(m: Moment, index: int, rule: ThrottleRule) -> dict[str, float] | None:
    """The evidence when rule ``index`` meets its threshold now, else None."""
    since = m.t - rule.window
    hits = m.matched(index, since)
    if rule.count is not None:
        if hits < rule.count:
            return None
        return {"count": hits, "threshold": rule.count, "window_s": rule.window}
    volume_counts = m.pair.volume[index]
    volume = 0 if volume_counts is None else volume_counts.total(since, m.t, m.pair.last_action)
    ratio = rule.ratio or 0.0
    if volume < rule.min_volume or hits < ratio * volume or hits == 0:
        return None
    return {
        "matched": hits,
        "volume": volume,
        "ratio": hits / volume,
        "threshold": ratio,
        "window_s": rule.window,
    }


def _attempt_rate(m: Moment) -> float | None:
    """The pair's recent attempts (d+b+t) per second, over the rate window."""
    window = m.rules.settings.rate_window
    since = m.t - window
    attempts = m.pair.attempts.total(since, m.t)
    oldest = m.pair.attempts.oldest(since, m.t)
    if not attempts or oldest is None:
        return None
    # A pair that started sending 10 s ago has a 10 s rate, not a 60 s average.
    return attempts / min(window, max(1.0, m.t - oldest))


def slow(m: Moment, index: int, rule: ThrottleRule, evidence: dict[str, float]) -> ThrottleDecision:
    """Multiplicative decrease of the override in force (compounding repeated bursts).

    A first slow starts from the pair's observed attempt rate (capped by the ceiling),
    so the pair ends below the rate at which the receiver pushed back.
    """
    pair, ceiling = m.pair, m.bounds.ceiling
    observed = _attempt_rate(m)
    known = [x for x in (observed, ceiling) if x is not None and math.isfinite(x)]
    if pair.rate is not None:
        base = pair.rate
    elif known:
        base = min(known)
    else:
        # No attempts seen and no limit: the matching events' own rate is all we know.
        base = evidence.get("count", 1.0) / rule.window
    rate = m.clamp(base * (rule.factor or 0.5))
    if pair.rate is None:
        pair.reference = ceiling if math.isfinite(ceiling) else max(base, rate)
    before = pair.rate
    sample = m.sample(index, m.t - rule.window)
    pair.rate, pair.override_until = rate, m.t + (rule.duration or 0.0)
    evidence = evidence | {"rate": rate, "factor": rule.factor or 0.5}
    if observed is not None:
        evidence["attempt_rate"] = round(observed, 6)
    if before is not None:
        evidence["previous_rate"] = before
    was = f"{base:.3g}" if before is not None or known else "unlimited"
    detail = f"{_threshold_text(rule, evidence)}: {was} → {rate:.3g} msg/s"
    return m.decision("slow", rule, evidence, sample, detail, rate=rate)


def pause(
    m: Moment, index: int, rule: ThrottleRule, evidence: dict[str, float]
) -> ThrottleDecision:
    """PowerMTA-style backoff: pause for backoff-min * scale^level, capped at backoff-max."""
    pair, bounds = m.pair, m.bounds
    seconds = min(bounds.backoff_max, bounds.backoff_min * bounds.scale_factor**pair.pause_level)
    level = pair.pause_level + 1
    if seconds < bounds.backoff_max:
        pair.pause_level = level  # once at the cap, the level stops growing (no overflow)
    sample = m.sample(index, m.t - rule.window)
    pair.paused_until = m.t + seconds
    evidence = evidence | {"pause_s": seconds, "level": level}
    detail = f"{_threshold_text(rule, evidence)}: pause {seconds:g} s (level {level})"
    # A slowed pair stays slowed after the pause: the decision carries the rate in force
    # and lasts as long as that override does (the pause itself ends after pause_s).
    lasts = max(seconds, pair.override_until - m.t) if pair.rate is not None else seconds
    return m.decision("pause", rule, evidence, sample, detail, rate=pair.rate, seconds=lasts)


def ramp(m: Moment, index: int, rule: ThrottleRule) -> ThrottleDecision | None:
    """Additive increase after a clean window; ``normal`` once back at the ceiling."""
    pair, ceiling = m.pair, m.bounds.ceiling
    since = m.t - rule.window
    if m.t - pair.last_bad < rule.window or m.t - pair.last_action < rule.window:
        return None  # a failure, or our own last step, is too recent
    clean = m.matched(index, since)
    if clean < (rule.count or 1):
        return None
    if pair.pause_level and m.t >= pair.paused_until:
        pair.pause_level = 0  # delivering cleanly after a pause: the next block starts small
    if pair.rate is None:
        return None
    target = ceiling if math.isfinite(ceiling) else pair.reference
    step = rule.step_rate if rule.step is None else rule.step * target
    before = pair.rate
    rate = m.clamp(before + (step or 0.0))
    evidence = {"count": clean, "threshold": rule.count or 1, "window_s": rule.window}
    evidence |= {"previous_rate": before, "step": step or 0.0}
    if math.isfinite(pair.last_bad):
        evidence["quiet_s"] = m.t - pair.last_bad
    sample = m.sample(index, since)
    if rate + (step or 0.0) / 2 >= target:  # within half a step: no 29.98 → 30 step
        pair.forget_control()
        detail = f"clean for {rule.window:g} s: back to the configured rate, override lifted"
        return m.decision("normal", rule, evidence, sample, detail)
    pair.rate, pair.override_until = rate, m.t + (rule.duration or 0.0)
    evidence["rate"] = rate
    detail = f"clean for {rule.window:g} s: {before:.3g} → {rate:.3g} msg/s"
    return m.decision("ramp", rule, evidence, sample, detail, rate=rate)


def _threshold_text(rule: ThrottleRule, evidence: dict[str, float]) -> str:
    if rule.ratio is not None:
        return (
            f"{evidence['matched']:g}/{evidence['volume']:g} = {evidence['ratio']:.3%} "
            f">= {rule.ratio:.3%} in {rule.window:g} s"
        )
    return f"{evidence['count']:g} matching in {rule.window:g} s (>= {rule.count})"

"""``ThrottleController.explain``: one pair's state and recent decisions, for people."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from acctpipe.policy._pair import PairState
from acctpipe.policy._throttle_rules import ThrottleRules
from acctpipe.policy.types import ThrottleDecision

__all__ = ["explain_pair"]


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _rate(rate: float) -> str:
    return "unlimited" if math.isinf(rate) else f"{rate:.3g} msg/s"


def _decision_lines(decision: ThrottleDecision) -> list[str]:
    rate = "" if decision.rate is None else f" {decision.rate:.3g} msg/s"
    evidence = " ".join(f"{k}={v:.6g}" for k, v in decision.evidence.items())
    lines = [
        f"  {decision.decided_at.isoformat(timespec='seconds')} {decision.action}{rate}"
        f" — rule {decision.rule}, until {decision.expires_at.isoformat(timespec='seconds')}",
        f"      {decision.detail}",
        f"      evidence: {evidence or 'none'}",
    ]
    if decision.event_ids:
        lines.append(f"      {decision.events_caption()}: {', '.join(decision.event_ids)}")
    return lines


def explain_pair(queue: str, vmta: str, pair: PairState | None, rules: ThrottleRules) -> str:
    """Current override, pause and backoff level, newest matching failure, last decisions."""
    head = f"{queue or '?'} / {vmta or '(no vmta)'}"
    if pair is None:
        return f"{head}: no recent events and no decisions (configured limits apply)"
    lines = [head]
    bounds = pair.bounds
    if bounds is not None:
        adaptive = "on" if bounds.adaptive else "off (no decisions)"
        lines.append(
            f"  bounds: ceiling {_rate(bounds.ceiling)}, floor "
            f"{_rate(min(rules.settings.floor, bounds.ceiling))}, adaptive {adaptive}, "
            f"backoff {bounds.backoff_min:g}-{bounds.backoff_max:g} s"
            f" (scale {bounds.scale_factor:g})"
        )
    if pair.rate is None:
        lines.append("  rate: configured (no override)")
    else:
        lines.append(f"  rate: {_rate(pair.rate)} until {_when(pair.override_until)}")
    if math.isfinite(pair.paused_until):
        lines.append(
            f"  pause: last one ends {_when(pair.paused_until)}, backoff level {pair.pause_level}"
        )
    elif pair.pause_level:
        lines.append(f"  pause: none in force, backoff level {pair.pause_level}")
    else:
        lines.append("  pause: none")
    if math.isfinite(pair.last_bad):
        lines.append(f"  newest event matching a slow/pause rule: {_when(pair.last_bad)}")
    if not pair.decisions:
        lines.append("  decisions: none yet")
        return "\n".join(lines)
    lines.append("  decisions (newest first):")
    for decision in reversed(pair.decisions):
        lines.extend(_decision_lines(decision))
    return "\n".join(lines)

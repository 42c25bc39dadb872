"""The adaptive throttle controller: events in, per-pair rate decisions out (sans-IO).

:class:`ThrottleController` watches each (queue, vmta) pair — the queue is the
accounting row's ``queue``, or the recipient's domain when it has none — through
bounded windows of recent events, and runs the rule table
(:mod:`acctpipe.policy._throttle_rules`, data in ``default.toml``) against them:

* **slow** (multiplicative decrease): the new rate is ``factor`` * the lower of the
  override in force and the pair's observed attempt rate (d+b+t per second over the
  rate window), so the pair ends *below* the rate at which the receiver pushed back;
  repeated bursts compound;
* **pause** (PowerMTA-style backoff): stop the pair for ``backoff-min`` *
  ``backoff-scale-factor`` ** n, capped at ``backoff-max`` (n counts the pauses
  since the pair last delivered cleanly);
* **ramp** (additive increase): a slowed pair that delivered for a window with no
  event matching any slow or pause rule gains a step; at the ceiling, a ``normal``
  decision lifts the override.

Rates stay within [floor, ceiling] (the floor being lowered to the ceiling if that
is smaller). Only events newer than the pair's last decision count towards the
next one, so one burst acts once. Nothing here reads a clock: ``decide`` takes
``now``. The same calls in the same order give the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

from acctpipe.policy import _actions
from acctpipe.policy._explain import explain_pair
from acctpipe.policy._pair import PairBounds, PairState
from acctpipe.policy._throttle_rules import (
    RULE_ACTIONS,
    ThrottleRule,
    ThrottleRules,
    ThrottleSettings,
    default_throttle_rules,
    load_throttle_rules,
)
from acctpipe.policy._toml import PolicyText
from acctpipe.policy.address import domain_of
from acctpipe.policy.types import Event, ThrottleDecision

__all__ = [
    "RULE_ACTIONS",
    "PairBounds",
    "PolicyText",
    "ThrottleController",
    "ThrottleRule",
    "ThrottleRules",
    "ThrottleSettings",
    "default_throttle_rules",
    "load_throttle_rules",
]

Bounds = Callable[[str, str], PairBounds]
_ATTEMPTS: Final = frozenset({"d", "b", "t"})
_CACHE_LIMIT: Final = 10_000
_KEEP_HISTORY: Final = 86_400.0  # an idle pair's decisions stay explainable for a day
# What one kind of event does to a pair: rules it matches, ratio volumes it adds
# to, whether it is an attempt, whether it is "bad" (matches a slow/pause rule).
_Effect = tuple[tuple[int, ...], tuple[int, ...], bool, bool]


class ThrottleController:
    """Per-pair windows and control state; ``observe`` events, ``decide`` at a time.

    ``queue_of`` maps a recipient domain to its queue name (e.g. through
    ``mta.config.effective_settings(config, domain).queue``) for rows that carry no
    ``queue`` — ``f`` records do not; without it the domain is the queue.
    """

    def __init__(
        self,
        rules: ThrottleRules | None = None,
        *,
        queue_of: Callable[[str], str] | None = None,
    ) -> None:
        self.rules = rules or default_throttle_rules()
        self._queue_of = queue_of
        self._queues: dict[str, str] = {}
        self._pairs: dict[tuple[str, str], PairState] = {}
        self._effects: dict[tuple[str, str, str, str, str], _Effect] = {}
        indexed = list(enumerate(self.rules.rules))
        self._action_rules = [(i, r) for i, r in indexed if r.action != "ramp"]
        self._ramp_rules = [(i, r) for i, r in indexed if r.action == "ramp"]

    def pair_of(self, event: Event) -> tuple[str, str] | None:
        """The (queue, vmta) pair ``event`` counts for (None: neither queue nor recipient)."""
        queue = event.queue
        if not queue:
            domain = domain_of(event.rcpt)
            if not domain:
                return None
            queue = self._queues.get(domain) or self._queue(domain)
        return queue, event.vmta

    def _queue(self, domain: str) -> str:
        if len(self._queues) >= _CACHE_LIMIT:
            self._queues.clear()
        self._queues[domain] = self._queue_of(domain) if self._queue_of else domain
        return self._queues[domain]

    def _effect(self, event: Event) -> _Effect:
        key = (event.type, event.cls, event.category, event.status, event.diag)
        effect = self._effects.get(key)
        if effect is None:
            matched = tuple(i for i, rule in enumerate(self.rules.rules) if rule.matches(event))
            volume = tuple(
                i
                for i, rule in enumerate(self.rules.rules)
                if rule.ratio is not None and event.type in rule.over
            )
            bad = any(self.rules.rules[i].action != "ramp" for i in matched)
            effect = (matched, volume, event.type in _ATTEMPTS, bad)
            if len(self._effects) >= _CACHE_LIMIT:
                self._effects.clear()  # diagnostics vary per message; keep the cache bounded
            self._effects[key] = effect
        return effect

    def observe(self, events: Iterable[Event]) -> None:
        """Count ``events`` into their pairs' windows (bounded: old buckets are dropped)."""
        for event in events:
            key = self.pair_of(event)
            if key is None:
                continue
            matched, volume, attempt, bad = self._effect(event)
            if not (matched or volume or attempt):
                continue
            pair = self._pairs.get(key)
            if pair is None:
                pair = self._pairs[key] = PairState.empty(self.rules)
            when = event.time.timestamp()
            for index in matched:
                pair.matched[index].add(when)
                pair.samples[index].add(when, event.event_id)
            for index in volume:
                counts = pair.volume[index]
                if counts is not None:
                    counts.add(when)
            if attempt:
                pair.attempts.add(when)
            if bad and when > pair.last_bad:
                pair.last_bad = when
            pair.dirty = True

    def decide(self, now: datetime, bounds: Bounds) -> list[ThrottleDecision]:
        """The decisions due at ``now``, at most one per pair, sorted by (queue, vmta).

        ``bounds(queue, vmta)`` gives each pair's configured limits
        (:meth:`PairBounds.from_settings`); a pair whose bounds say
        ``adaptive=False`` gets no decision and its state is dropped. Pairs are
        evaluated when new events arrived since the last call, or while an
        override, a pause or a backoff level is in force.
        """
        if now.tzinfo is None:
            # A caller bug, not input (a plain ValueError): the clock is aware.
            raise ValueError("now must be timezone-aware")
        t = now.timestamp()
        decisions = []
        for key in sorted(self._pairs):
            pair = self._pairs[key]
            pair.prune(t, self.rules)
            if pair.rate is not None and t >= pair.override_until:
                pair.rate, pair.reference = None, math.inf  # expired: the MTA dropped it too
            if pair.is_idle() and t >= pair.paused_until:
                last = pair.decisions[-1].decided_at.timestamp() if pair.decisions else -math.inf
                if t - last >= _KEEP_HISTORY:
                    del self._pairs[key]
                continue
            if not (pair.dirty or pair.rate is not None or pair.pause_level):
                continue
            pair.dirty = False
            decision = self._decide_pair(key, pair, now, t, bounds(*key))
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _decide_pair(
        self, key: tuple[str, str], pair: PairState, now: datetime, t: float, bounds: PairBounds
    ) -> ThrottleDecision | None:
        pair.bounds = bounds
        if not bounds.adaptive:
            pair.forget_control()
            return None
        if pair.pause_level and t - max(pair.paused_until, pair.last_action) >= bounds.backoff_max:
            pair.pause_level = 0  # no block for a whole backoff-max: start small again
        if t < pair.paused_until:
            return None  # paused: rows logged now are stragglers from before the pause
        shared = self._pairs.get((key[0], "")) if key[1] else None
        m = _actions.Moment(key[0], key[1], pair, shared, bounds, now, t, self.rules)
        for index, rule in self._action_rules:
            evidence = _actions.fired(m, index, rule)
            if evidence is not None:
                act = _actions.pause if rule.action == "pause" else _actions.slow
                return act(m, index, rule, evidence)
        for index, rule in self._ramp_rules:
            decision = _actions.ramp(m, index, rule)
            if decision is not None:
                return decision
        return None

    def explain(self, queue: str, vmta: str) -> str:
        """Several lines a person can read: the pair's state and its last decisions."""
        return explain_pair(queue, vmta, self._pairs.get((queue, vmta)), self.rules)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The pairs the controller holds state for, sorted."""
        return tuple(sorted(self._pairs))

    def state_size(self) -> int:
        """Counters, sampled ids and remembered decisions held, over every pair (for metrics)."""
        return sum(pair.size() for pair in self._pairs.values())

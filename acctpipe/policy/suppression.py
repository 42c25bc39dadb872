"""The suppression policy: newly ingested events (and some history) in, decisions out.

A pure function, :func:`decide_suppressions`; the policy is data
(:class:`SuppressionPolicy`, loaded from ``default.toml`` and user files):

* a **hard** bounce (``b`` or ``rb`` of class hard) suppresses the address for good;
* a **complaint** (any record of class complaint, or an unclassified ``f``) suppresses for
  good and asks for a notification;
* **soft** failures (class soft, of the record types in ``soft_records``: ``b`` and
  ``rb`` by default, the *final* failure of a message — a ``t`` is one attempt of a
  message still being retried, so a full mailbox would otherwise count once per
  retry) suppress for ``soft_duration`` only when at least ``soft_count`` of them
  (weighted by an optional half-life) fall within ``soft_window`` *after the last
  delivery* to the address — a ``d`` resets the count. Only failures that are the
  recipient's fault count (``fault`` recipient, or empty when not known): a timeout
  or a refusal of our host says nothing about the address and is the throttle
  controller's evidence for the (queue, vmta) pair instead;
* **spam** (the receiver refused *us*) and **unknown** failures never suppress.

One decision per (address, scope): a complaint outranks a hard bounce, which
outranks repeated soft failures. Outputs are sorted, so the same inputs always give
the same decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from acctpipe.policy._suppression_config import (
    SCOPES,
    Scope,
    SuppressionPolicy,
    default_suppression_policy,
    load_suppression_policy,
)
from acctpipe.policy._toml import PolicyText
from acctpipe.policy.address import domain_of, suppression_key
from acctpipe.policy.types import Event, SuppressionDecision, SuppressionReason

__all__ = [
    "SCOPES",
    "PolicyText",
    "Scope",
    "SuppressionPolicy",
    "decide_suppressions",
    "default_suppression_policy",
    "history_addresses",
    "history_query_window",
    "human_duration",
    "load_suppression_policy",
    "scope_of",
]

_RANK: dict[SuppressionReason, int] = {"complaint": 0, "hard-bounce": 1, "soft-bounce-repeated": 2}


def scope_of(event: Event, scope: Scope) -> str:
    """The suppression scope ``event`` falls in under ``scope``.

    ``sender-domain`` → ``domain:<sender's domain>``, ``job`` → ``list:<job id>``;
    both fall back to ``global`` when the record has no sender domain or job id
    (suppressing too widely beats mailing a dead address again).
    """
    if scope == "sender-domain" and (domain := domain_of(event.sender)):
        return f"domain:{domain}"
    if scope == "job" and event.job_id:
        return f"list:{event.job_id}"
    return "global"


def history_query_window(policy: SuppressionPolicy) -> timedelta:
    """How far back :func:`decide_suppressions` needs history: the soft window."""
    return policy.soft_window


# "" is a row whose fault is not known (ingested before schema version 4): counted as
# before, rather than forgetting the failures it records.
_RECIPIENT_FAULTS: Final = ("recipient", "")


def _counts_soft(event: Event, policy: SuppressionPolicy) -> bool:
    return (
        event.cls == "soft"
        and event.fault in _RECIPIENT_FAULTS
        and event.type in policy.soft_records
        and (not policy.soft_categories or event.category in policy.soft_categories)
        and bool(event.rcpt)
    )


def history_addresses(batch: Iterable[Event], policy: SuppressionPolicy) -> tuple[str, ...]:
    """The (normalised, sorted) addresses whose history :func:`decide_suppressions` needs."""
    keys = {suppression_key(e.rcpt) for e in batch if _counts_soft(e, policy)}
    return tuple(sorted(key for key in keys if key is not None))


def human_duration(delta: timedelta) -> str:
    """A duration as people write it: ``7 days``, ``1 day``, ``36 h``, ``90 min``, ``45 s``."""
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{seconds:g} s"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _top_category(events: Sequence[Event]) -> str:
    counts = Counter(e.category or "other" for e in events)
    return min(counts, key=lambda category: (-counts[category], category))


def _ids(events: Iterable[Event]) -> tuple[str, ...]:
    return tuple(e.event_id for e in sorted(events, key=lambda e: (e.time, e.event_id)))


def _for_good(
    batch: Sequence[Event], policy: SuppressionPolicy, now: datetime
) -> list[SuppressionDecision]:
    """Hard bounces and complaints in the batch: one decision per (address, scope, reason)."""
    found: dict[tuple[str, str, SuppressionReason], list[Event]] = {}
    for event in batch:
        reason: SuppressionReason
        # An f record is a complaint unless classified otherwise (not-spam, auth-failure…).
        if event.cls == "complaint" or (event.type == "f" and not event.cls):
            reason, scope = "complaint", scope_of(event, policy.complaint_scope)
        elif event.cls == "hard" and event.type in ("b", "rb"):
            reason, scope = "hard-bounce", scope_of(event, policy.hard_scope)
        else:
            continue
        address = suppression_key(event.rcpt)
        if address is None:
            continue  # no recipient, or not an address: nothing could be stored
        found.setdefault((address, scope, reason), []).append(event)
    decisions = []
    for (address, scope, reason), events in found.items():
        complaint = reason == "complaint"
        noun = "complaint" if complaint else "hard bounce"
        status = "" if complaint else " ".join(sorted({e.status for e in events if e.status}))
        category = "feedback-loop report" if complaint else _top_category(events)
        detail = _plural(len(events), noun) + (f" {status}" if status else "") + f" ({category})"
        decisions.append(
            SuppressionDecision(
                address=address,
                scope=scope,
                reason=reason,
                event_ids=_ids(events),
                decided_at=now,
                notify=complaint and policy.complaint_notify,
                detail=detail,
            )
        )
    return decisions


def _weight(failures: Sequence[Event], policy: SuppressionPolicy) -> float:
    """The failures' weight: their number, or with a half-life the decayed sum.

    Ages are measured from the newest failure (which weighs 1), not from ``now``, so a
    backlog evaluated late decides as it would have on time. The sum is rounded to
    two decimals: five failures a minute apart weigh 5.00, not 4.9998.
    """
    if policy.soft_half_life is None:
        return float(len(failures))
    newest = max(e.time for e in failures)
    half_life = policy.soft_half_life
    weights = [0.5 ** ((newest - e.time) / half_life) for e in failures]
    return round(float(sum(weights)), 2)


def _repeated_soft(
    batch: Sequence[Event],
    history: Mapping[str, Sequence[Event]],
    policy: SuppressionPolicy,
    now: datetime,
) -> list[SuppressionDecision]:
    """Soft failures that repeated enough since the last delivery, per (address, scope)."""
    new_ids = {e.event_id for e in batch if _counts_soft(e, policy)}
    if not new_ids:
        return []
    wanted = set(history_addresses(batch, policy))
    seen: dict[str, Event] = {}  # by id: history overlaps the batch when rows are already stored
    for given, events in history.items():
        if suppression_key(given) in wanted:
            seen.update((e.event_id, e) for e in events)
    seen.update((e.event_id, e) for e in batch)
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in seen.values():
        address = suppression_key(event.rcpt)
        if (
            address is not None
            and address in wanted
            and (event.type == "d" or _counts_soft(event, policy))
        ):
            groups.setdefault((address, scope_of(event, policy.soft_scope)), []).append(event)
    since = now - policy.soft_window
    decisions = []
    for (address, scope), events in sorted(groups.items()):
        reset = max((e.time for e in events if e.type == "d"), default=None)
        failures = [
            e
            for e in events
            if e.type != "d" and e.time > since and (reset is None or e.time > reset)
        ]
        if not any(e.event_id in new_ids for e in failures):
            continue  # nothing new for this group: a decision was (or was not) made before
        weight = _weight(failures, policy)
        if weight < policy.soft_count:
            continue
        ids = _ids(failures)
        decay = ""
        if policy.soft_half_life is not None:
            decay = f", weight {weight:.2f} (half-life {human_duration(policy.soft_half_life)})"
        window = human_duration(policy.soft_window)
        detail = f"{_plural(len(failures), 'soft bounce')} in {window}{decay}"
        decisions.append(
            SuppressionDecision(
                address=address,
                scope=scope,
                reason="soft-bounce-repeated",
                event_ids=ids,
                decided_at=now,
                expires_at=max(e.time for e in failures) + policy.soft_duration,
                detail=f"{detail} ({_top_category(failures)})",
            )
        )
    return decisions


def decide_suppressions(
    batch: Sequence[Event],
    history: Mapping[str, Sequence[Event]],
    policy: SuppressionPolicy,
    now: datetime,
) -> list[SuppressionDecision]:
    """The suppressions that ``batch`` (newly ingested events) calls for, at ``now``.

    ``history`` maps each address of :func:`history_addresses` (``batch``, ``policy``)
    — the recipients of counting soft failures in the batch, normalised — to its
    earlier events: every ``d`` and every record of a type in ``policy.soft_records``
    to that address whose ``time_logged`` is later than ``now -``
    :func:`history_query_window`. Other addresses need none. History may include the
    batch's own rows (they are told apart by ``event_id``); missing history only
    means fewer soft suppressions, never a wrong hard one.

    Returns at most one decision per (address, scope) — complaint before hard bounce
    before repeated soft bounces — sorted by address, scope and reason. A soft
    suppression expires ``soft_duration`` after the latest failure it counted, so
    evaluating the same rows again gives the same decision. ``now`` must be
    timezone-aware.
    """
    if now.tzinfo is None:
        # A caller bug, not input (a plain ValueError): the clock is aware.
        raise ValueError("now must be timezone-aware")
    best: dict[tuple[str, str], SuppressionDecision] = {}
    for decision in _for_good(batch, policy, now) + _repeated_soft(batch, history, policy, now):
        key = (decision.address, decision.scope)
        if key not in best or _RANK[decision.reason] < _RANK[best[key].reason]:
            best[key] = decision
    return sorted(best.values(), key=lambda d: (d.address, d.scope, _RANK[d.reason]))

"""How one decision changes one suppression: a pure function, no database.

The rules (documented in docs/suppressions.md):

* **add** when the (address, scope) pair holds nothing;
* **update** when the decision lasts longer (a later ``expires_at``, or None —
  for good — over a date), or lasts as long with a weightier reason (the
  ranks below). The decision's reason, expiry and detail then replace the row's,
  and its event ids go in front of the row's (capped at ``MAX_EVENT_IDS``);
* otherwise **nothing** — re-applying a decision, or a weaker one, writes no
  change (this is what makes imports and policy re-runs idempotent);
* **remove** lifts the pair when the decision's reason matches the row's, or is
  ``manual`` (an operator may lift anything; a delivery resetting soft-bounce
  counting must not lift a complaint);
* **expire** is written by the sweeper for a row whose ``expires_at`` has passed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from acctpipe.policy.types import SuppressionDecision, SuppressionReason
from acctpipe.sqlstore.suppressions.model import Change, Suppression

__all__ = ["MAX_EVENT_IDS", "REASON_RANK", "expired", "merge"]

MAX_EVENT_IDS: Final = 50
# When two decisions last equally long, the weightier reason explains the row.
REASON_RANK: Final[dict[SuppressionReason, int]] = {
    "soft-bounce-repeated": 1,
    "manual": 2,
    "unsubscribe": 3,
    "hard-bounce": 4,
    "complaint": 5,
}
_FOREVER: Final = datetime.max.replace(tzinfo=UTC)


def _until(expires_at: datetime | None) -> datetime:
    return _FOREVER if expires_at is None else expires_at


def _ids(new: tuple[str, ...], old: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*new, *old)))[:MAX_EVENT_IDS]


def _change(op: str, state: Suppression, decision: SuppressionDecision, at: datetime) -> Change:
    return Change(
        cursor=0,  # the store fills it in when the row is written
        op="add" if op == "add" else "update",
        address=state.address,
        scope=state.scope,
        reason=state.reason,
        changed_at=at,
        expires_at=state.expires_at,
        detail=state.detail,
        event_ids=_ids(decision.event_ids),
        notify=decision.notify,
    )


def merge(
    current: Suppression | None, decision: SuppressionDecision, changed_at: datetime
) -> tuple[Suppression | None, Change | None]:
    """The row after ``decision`` (None: no row) and the change to log (None: no change).

    ``decision`` must carry the normalised address and scope of ``current``.
    """
    if decision.remove:
        if current is None or decision.reason not in ("manual", current.reason):
            return current, None
        tombstone = Change(
            cursor=0,
            op="remove",
            address=current.address,
            scope=current.scope,
            reason=current.reason,
            changed_at=changed_at,
            detail=decision.detail,
            event_ids=_ids(decision.event_ids),
        )
        return None, tombstone
    if current is None:
        state = Suppression(
            address=decision.address,
            scope=decision.scope,
            reason=decision.reason,
            created_at=decision.decided_at,
            updated_at=decision.decided_at,
            expires_at=decision.expires_at,
            detail=decision.detail,
            event_ids=_ids(decision.event_ids),
        )
        return state, _change("add", state, decision, changed_at)
    new, old = _until(decision.expires_at), _until(current.expires_at)
    weightier = REASON_RANK[decision.reason] > REASON_RANK[current.reason]
    if not (new > old or (new == old and weightier)):
        return current, None
    state = replace(
        current,
        reason=decision.reason,
        expires_at=decision.expires_at,
        detail=decision.detail or current.detail,
        event_ids=_ids(decision.event_ids, current.event_ids),
        updated_at=max(current.updated_at, decision.decided_at),
    )
    return state, _change("update", state, decision, changed_at)


def expired(current: Suppression, changed_at: datetime) -> Change:
    """The tombstone for a suppression whose ``expires_at`` has passed."""
    return Change(
        cursor=0,
        op="expire",
        address=current.address,
        scope=current.scope,
        reason=current.reason,
        changed_at=changed_at,
        expires_at=current.expires_at,
        detail=current.detail,
    )

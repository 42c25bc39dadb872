"""What the suppression store holds and hands out: suppressions and change-log entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from acctpipe.policy.types import SuppressionReason

__all__ = ["TOMBSTONES", "Change", "ChangeOp", "Suppression"]

ChangeOp = Literal["add", "update", "remove", "expire"]
TOMBSTONES: Final[frozenset[ChangeOp]] = frozenset({"remove", "expire"})


@dataclass(frozen=True, slots=True)
class Suppression:
    """``address`` may not receive mail in ``scope`` until ``expires_at`` (None: for good).

    ``event_ids`` are the accounting events that caused it, newest first;
    ``detail`` is one line a person can read.
    """

    address: str
    scope: str
    reason: SuppressionReason
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    detail: str = ""
    event_ids: tuple[str, ...] = ()

    def is_active(self, now: datetime) -> bool:
        """True while the suppression applies at ``now``."""
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log, at ``cursor`` (strictly increasing, in commit order).

    ``add`` and ``update`` carry the suppression's new state; ``remove`` and
    ``expire`` are tombstones: (address, scope) is no longer suppressed, and
    ``reason`` says what was lifted. ``event_ids`` are the events behind this
    change; ``notify`` asks for the CRM to be told (a complaint).
    """

    cursor: int
    op: ChangeOp
    address: str
    scope: str
    reason: SuppressionReason
    changed_at: datetime
    expires_at: datetime | None = None
    detail: str = ""
    event_ids: tuple[str, ...] = ()
    notify: bool = False

    @property
    def is_tombstone(self) -> bool:
        """True for ``remove`` and ``expire``: the pair is no longer suppressed."""
        return self.op in TOMBSTONES

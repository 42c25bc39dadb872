"""The JSON shapes of the API (pydantic models; they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from acctpipe.policy.types import SuppressionReason, ThrottleAction
from acctpipe.sqlstore.suppressions import Change, Suppression
from acctpipe.sqlstore.suppressions.model import ChangeOp

__all__ = [
    "BulkResult",
    "ChangeOut",
    "ChangePage",
    "LookupOut",
    "RowNoteOut",
    "SuppressionIn",
    "SuppressionOut",
    "SuppressionPage",
    "WriteResult",
]


class SuppressionOut(BaseModel):
    """One suppression: ``address`` gets no mail in ``scope`` until ``expires_at``."""

    address: str
    scope: str
    reason: SuppressionReason
    detail: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(description="null: for good")
    active: bool = Field(description="false once expires_at has passed")
    event_ids: list[str] = Field(description="the accounting events behind it, newest first")

    @classmethod
    def of(cls, s: Suppression, now: datetime) -> SuppressionOut:
        """The API shape of ``s`` as of ``now``."""
        return cls(
            address=s.address,
            scope=s.scope,
            reason=s.reason,
            detail=s.detail,
            created_at=s.created_at,
            updated_at=s.updated_at,
            expires_at=s.expires_at,
            active=s.is_active(now),
            event_ids=list(s.event_ids),
        )


class SuppressionPage(BaseModel):
    """A page of suppressions in (address, scope) order."""

    items: list[SuppressionOut]
    next: str | None = Field(description="pass as ?after= for the next page; null at the end")


class LookupOut(BaseModel):
    """Whether mail to ``address`` is stopped, and every suppression it has."""

    address: str = Field(description="the address as the store spells it (normalised)")
    suppressed: bool = Field(description="true if an active suppression applies to this mail")
    applies: SuppressionOut | None = Field(description="the suppression that stops it")
    suppressions: list[SuppressionOut]


class SuppressionIn(BaseModel):
    """A suppression to add (or refresh)."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$", examples=["user@example.com"]
    )
    scope: str = Field(
        default="global",
        max_length=330,
        pattern=r"^(global|domain:.+|list:.+)$",
        description="global, domain:<sender domain> or list:<name>",
        examples=["global", "list:news"],
    )
    reason: SuppressionReason = "manual"
    expires_at: datetime | None = Field(default=None, description="null: for good")
    detail: str = Field(default="", max_length=1000)


class ChangeOut(BaseModel):
    """One entry of the change feed. ``remove``/``expire`` are tombstones."""

    cursor: int
    op: ChangeOp
    address: str
    scope: str
    reason: SuppressionReason
    detail: str
    expires_at: datetime | None
    changed_at: datetime
    event_ids: list[str]
    tombstone: bool = Field(description="true: the pair is no longer suppressed")

    @classmethod
    def of(cls, c: Change) -> ChangeOut:
        """The API shape of ``c``."""
        return cls(
            cursor=c.cursor,
            op=c.op,
            address=c.address,
            scope=c.scope,
            reason=c.reason,
            detail=c.detail,
            expires_at=c.expires_at,
            changed_at=c.changed_at,
            event_ids=list(c.event_ids),
            tombstone=c.is_tombstone,
        )


class ChangePage(BaseModel):
    """Changes after the cursor asked for, in cursor order."""

    changes: list[ChangeOut]
    next_cursor: int = Field(description="ask for changes after this next time")
    has_more: bool = Field(description="true: more changes are ready now")


class WriteResult(BaseModel):
    """What a write did: the change logged, or none when nothing changed."""

    changed: bool
    change: ChangeOut | None


class RowNoteOut(BaseModel):
    """Why one line of a bulk body was not applied (1-based line number)."""

    line: int
    message: str


class BulkResult(BaseModel):
    """What a bulk request did (counts are totals; ``errors`` lists the first 100)."""

    op: Literal["add", "remove"]
    format: str
    rows: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    invalid: int = 0
    skipped: int = 0
    errors: list[RowNoteOut] = Field(default_factory=list)


class ThrottleIn(BaseModel):
    """A manual throttle decision for a (queue, vmta) pair, until it expires."""

    model_config = ConfigDict(extra="forbid")

    queue: str = Field(min_length=1, max_length=255, examples=["gmail.com"])
    vmta: str = Field(default="*", min_length=1, max_length=255)
    action: ThrottleAction
    rate: float | None = Field(default=None, gt=0, description="messages per second")
    max_smtp_out: int | None = Field(default=None, ge=1)
    minutes: float = Field(default=60, gt=0, le=7 * 24 * 60, description="how long it lasts")
    detail: str = Field(default="", max_length=1000)

"""The transactional outbox: webhook messages written in the transaction of the decision.

A suppression change or a throttle decision and the messages announcing it
commit together or not at all, so the CRM is never told about a change that
was rolled back, and never misses one that committed. :class:`Outbox` plugs
into the stores as hooks they call inside their own transactions::

    outbox = Outbox(engine)
    suppressions = SuppressionStore(engine, on_changes=outbox.change_hook)
    throttles = ThrottleStore(engine, on_record=outbox.throttle_hook)
    outbox.publish([summary_event({...})])  # its own transaction

Each event becomes one ``webhook_messages`` row per matching subscription
(enabled, not deleted, subscribed to the type, and passing the filter — see
:mod:`acctpipe.webhooks.filters`), with a new ``msg_id`` and the event's body.
Subscriptions are read through the caller's connection and cached for
``cache_seconds``: a subscription created or changed meanwhile applies to
events from then on, at most that much later.

:meth:`Outbox.change_hook` first asks whether any of those subscriptions takes
a suppression event type at all (:meth:`Outbox.wants_suppression_events`); when
none does it returns without reading the changes, so a bulk import's batch of
50,000 changes (handed over as a sequence read back from the log on first use)
costs nothing when nobody listens. Whenever a subscription might match, every
change is turned into events and filtered exactly as before.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import Connection

from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore.schema import webhook_messages, webhook_subscriptions
from acctpipe.sqlstore.suppressions.model import Change
from acctpipe.webhooks._tx import utcnow, writing
from acctpipe.webhooks.events import WebhookEvent, suppression_events, throttle_event
from acctpipe.webhooks.filters import filter_matches

__all__ = ["SUPPRESSION_EVENT_TYPES", "Outbox", "new_msg_id"]

_S = webhook_subscriptions.c
# Every type acctpipe.webhooks.events.suppression_events can raise (a test checks it).
SUPPRESSION_EVENT_TYPES: Final = frozenset(
    {
        "suppression.created",
        "suppression.updated",
        "suppression.removed",
        "complaint",
        "hard_bounce",
    }
)
_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_msg_id() -> str:
    """``msg_`` + a ULID: 48 bits of milliseconds and 80 random bits, Crockford base32.

    26 characters that sort by creation time, unique without coordination.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "msg_" + "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class _Target:
    id: int
    event_types: frozenset[str]
    filter: Mapping[str, list[str]]

    def wants(self, event: WebhookEvent) -> bool:
        if "*" not in self.event_types and event.type not in self.event_types:
            return False
        return filter_matches(self.filter, event.data)


class Outbox:
    """Writes webhook messages for events, inside the caller's transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        cache_seconds: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cached: tuple[float, list[_Target]] | None = None

    def invalidate(self) -> None:
        """Forget the cached subscriptions: the next event reads them again."""
        self._cached = None

    def _targets(self, conn: Connection) -> list[_Target]:
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        query = (
            select(_S.id, _S.event_types, _S.filter)
            .where(_S.enabled, _S.deleted_at.is_(None))
            .order_by(_S.id)
        )
        targets = [
            _Target(row.id, frozenset(row.event_types), {k: list(v) for k, v in row.filter.items()})
            for row in conn.execute(query)
        ]
        if self.cache_seconds > 0:
            self._cached = (now, targets)
        return targets

    def enqueue(self, conn: Connection, events: Iterable[WebhookEvent]) -> int:
        """Write one pending message per (event, matching subscription) through ``conn``.

        Commits or rolls back with the caller's transaction. Returns the number
        of messages written.
        """
        events = list(events)
        if not events:
            return 0
        targets = self._targets(conn)
        now = self._clock()
        rows: list[dict[str, Any]] = []
        for event in events:
            body = event.body
            for target in targets:
                if target.wants(event):
                    rows.append(
                        {
                            "msg_id": new_msg_id(),
                            "subscription_id": target.id,
                            "event_type": event.type,
                            "body": body,
                            "created_at": now,
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                        }
                    )
        if rows:
            conn.execute(insert(webhook_messages), rows)
        return len(rows)

    def wants_suppression_events(self, conn: Connection) -> bool:
        """True when some enabled subscription takes an event a suppression change raises.

        Read from the cached subscriptions (no query while the cache is fresh).
        """
        return any(
            "*" in t.event_types or not t.event_types.isdisjoint(SUPPRESSION_EVENT_TYPES)
            for t in self._targets(conn)
        )

    def change_hook(self, conn: Connection, changes: Sequence[Change]) -> None:
        """A suppression :data:`~acctpipe.sqlstore.suppressions.ChangeHook`: the changes' events.

        Returns at once, without looking at ``changes``, when no subscription wants them.
        """
        if not self.wants_suppression_events(conn):
            return
        self.enqueue(conn, [e for change in changes for e in suppression_events(change)])

    def throttle_hook(self, conn: Connection, decision_id: int, decision: ThrottleDecision) -> None:
        """The ``on_record`` hook of :class:`~acctpipe.sqlstore.suppressions.ThrottleStore`."""
        self.enqueue(conn, [throttle_event(decision_id, decision)])

    def publish(self, events: Iterable[WebhookEvent]) -> int:
        """Write messages for ``events`` in a transaction of their own; return how many."""
        with writing(self.engine) as conn:
            return self.enqueue(conn, events)

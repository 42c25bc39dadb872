"""One delivery queue's state: a destination through one virtual MTA (sans-IO).

PowerMTA keeps a queue per (domain, vmta) — or per ``queue-to`` name, so that
hotmail.com, outlook.com and live.com share one — and every throttle applies to
that pair: ``max-smtp-out`` connections, ``max-msg-rate`` and ``max-conn-rate``
token buckets, the warmup's rate of the day, backoff mode switched on by an
``<smtp-pattern-list>`` and off after ``backoff-to-normal-after`` (or the next
delivery), and a live override from the feedback loop. The queue holds ids and
envelopes only; message bytes stay on disk. Clocks are passed in: ``mono`` for
buckets (monotonic seconds), ``now`` for retry times (wall-clock epoch seconds).
"""

from __future__ import annotations

import heapq
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from mta.config.model import DomainSettings, PatternList
from mta.config.values import Rate
from mta.delivery.attempt import Reply, retry_delay
from mta.delivery.share import Share, Slots
from mta.delivery.throttle import TokenBucket, effective_rate, warmup_rate
from mta.spool.durable import Envelope
from mta.status import QueueStatus

__all__ = ["CONNECT_HORIZON", "DeliveryQueue", "Override", "QueuedMessage"]

CONNECT_HORIZON = 1.0  # open a connection only if a message may go within this many seconds


@dataclass(slots=True)
class QueuedMessage:
    """A spooled message waiting in a queue (its bytes are read when it is sent)."""

    spool_id: str
    envelope: Envelope


def _compile(patterns: PatternList | None) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for rule in patterns.rules if patterns else ():
        if rule.kind != "reply":
            continue  # mail-from / rcpt-to / data patterns match the reply to that command too
        body, _, flags = rule.regex[1:].rpartition("/")
        out.append(
            (
                re.compile(body, re.IGNORECASE if "i" in flags else 0),
                rule.options.get("mode", "backoff"),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Override:
    """A live throttle decision for a queue (from the feedback loop or an operator).

    ``vmta`` ``"*"`` applies to the queue through every vmta. ``rate`` (messages per
    second) and ``max_smtp_out`` can only make the queue stricter than its config;
    ``paused_until`` holds it (no new connections, open ones close after their
    message) until then. Everything lapses at ``expires_at`` (epoch seconds).
    """

    queue: str
    vmta: str = "*"
    rate: float | None = None
    max_smtp_out: int | None = None
    paused_until: float | None = None
    expires_at: float = math.inf
    reason: str = ""

    def apply(self, queue: DeliveryQueue) -> None:
        """Put this override in force on ``queue``."""
        queue.override_rate = Rate(self.rate, 1.0) if self.rate is not None else None
        queue.override_smtp_out = self.max_smtp_out
        queue.hold_until = self.paused_until or 0.0
        queue.override_expires = self.expires_at
        queue.override_reason = self.reason

    @staticmethod
    def clear(queue: DeliveryQueue) -> None:
        """Lift whatever override ``queue`` has."""
        queue.override_rate = None
        queue.override_smtp_out = None
        queue.hold_until = 0.0
        queue.override_expires = math.inf
        queue.override_reason = ""


class DeliveryQueue:
    """Waiting messages, open connections and throttles of one (queue, vmta) pair."""

    def __init__(
        self,
        queue: str,
        vmta: str,
        settings: DomainSettings,
        *,
        patterns: PatternList | None = None,
        warmup_started: datetime | None = None,
        share: Share | None = None,
    ) -> None:
        self.queue = queue
        # This worker's share of every outbound limit (smtp-workers): mta.delivery.share.
        self.share = share or Share()
        self.slots = (
            Slots(self.share.slot_dir, queue, vmta, self.share.index)
            if self.share.slot_dir is not None and self.share.count > 1
            else None
        )
        self.vmta = vmta
        self.ready: deque[QueuedMessage] = deque()
        self.waiting: dict[str, QueuedMessage] = {}
        self._deferred: list[tuple[float, str]] = []
        self.connections = 0
        self.busy = 0  # connections sending a message right now
        self.parked = 0  # attempted, but not yet moved out of active/ (full disk): still queued
        self.paused = False
        self.backoff_until: float | None = None
        self.retry_at = 0.0
        self.connection_failures = 0
        self.delivered = self.bounced = self.transient = 0
        self.last_reply = self.last_error = ""
        self.override_rate: Rate | None = None
        self.override_smtp_out: int | None = None
        self.hold_until = 0.0  # paused by an override until then (epoch seconds)
        self.expiry_checked_at = 0.0
        self.override_expires = math.inf
        self.override_reason = ""
        self.warmup_started = warmup_started
        self.settings = settings
        # The bucket starts at the rate in force (a warmup's day-one rate, not max-msg-rate).
        self.msg_bucket = TokenBucket(self.msg_rate(time.time()))
        self.conn_bucket = TokenBucket(self.share.rate(settings.max_conn_rate))
        self._patterns = _compile(patterns)

    # -- configuration -------------------------------------------------------------------

    def reconfigure(self, settings: DomainSettings, patterns: PatternList | None) -> None:
        """New settings after a reload; tokens earned so far are kept."""
        self.settings = settings
        self._patterns = _compile(patterns)
        self.conn_bucket.set_rate(self.share.rate(settings.max_conn_rate), self.conn_bucket.stamp)

    # Backoff and overrides end at a time, not at an event: an idle queue gets no reply
    # or tick to clear them, so whatever depends on them is worked out from ``now`` at
    # each read (status, rates, limits), never from a flag left over from the last send.

    def is_backing_off(self, now: float) -> bool:
        """In backoff mode at ``now``: an smtp-pattern-list matched and it has not ended."""
        return self.backoff_until is not None and now < self.backoff_until

    def has_override(self, now: float) -> bool:
        """A live throttle override is in force at ``now`` (it has not expired)."""
        return self.override_expires > now

    def total_connections(self, now: float) -> int:
        """``max-smtp-out`` in force at ``now`` for the whole MTA (an override only lowers it)."""
        limit = self.settings.max_smtp_out or 1_000_000
        if self.override_smtp_out is not None and self.has_override(now):
            limit = min(limit, self.override_smtp_out)
        return max(limit, 0)

    def max_connections(self, now: float) -> int:
        """The connections this process may open at ``now``: its share of
        :meth:`total_connections` (all of it with one worker, or when each takes a slot)."""
        return self.share.cap(self.total_connections(now))

    def needs_slot(self, now: float) -> bool:
        """Whether a new connection must first hold one of the queue's shared slots."""
        return self.slots is not None and self.share.slotted(self.total_connections(now))

    def max_msg_per_connection(self, now: float) -> int:
        """Messages per connection before it is closed (0: no limit)."""
        if self.is_backing_off(now) and self.settings.backoff_max_msg_per_connection:
            return self.settings.backoff_max_msg_per_connection
        return self.settings.max_msg_per_connection

    def msg_rate(self, now: float) -> Rate:
        """This process's share of :meth:`total_msg_rate`."""
        return self.share.rate(self.total_msg_rate(now))

    def total_msg_rate(self, now: float) -> Rate:
        """The message rate in force for the whole MTA: configured, warmup, backoff and
        override — the strictest."""
        rate = self.settings.max_msg_rate
        warmup = self.settings.warmup
        if warmup is not None and self.warmup_started is not None:
            day = datetime.fromtimestamp(now, UTC)
            rate = effective_rate(rate, warmup_rate(warmup, self.warmup_started, day))
        if self.is_backing_off(now):
            rate = effective_rate(rate, self.settings.backoff_max_msg_rate)
        if self.override_rate is not None and self.has_override(now):
            rate = effective_rate(rate, self.override_rate)
        return rate

    def refresh_rate(self, mono: float, now: float) -> None:
        """Point the message bucket at the rate in force (it changes with warmup and backoff)."""
        rate = self.msg_rate(now)
        if rate != self.msg_bucket.rate:
            self.msg_bucket.set_rate(rate, mono)

    def retry_schedule(self, now: float) -> tuple[float, ...]:
        """``retry-after`` (or ``backoff-retry-after`` in backoff mode at ``now``)."""
        if self.is_backing_off(now) and self.settings.backoff_retry_after:
            return self.settings.backoff_retry_after
        return self.settings.retry_after

    # -- messages ------------------------------------------------------------------------

    def push(self, message: QueuedMessage) -> None:
        """A message ready to send now."""
        self.ready.append(message)

    def push_front(self, message: QueuedMessage) -> None:
        """A message taken but not sent (connection lost first): it goes next."""
        self.ready.appendleft(message)

    def defer(self, message: QueuedMessage, at: float) -> None:
        """A message to retry at ``at`` (wall-clock seconds)."""
        self.waiting[message.spool_id] = message
        heapq.heappush(self._deferred, (at, message.spool_id))

    def due(self, now: float) -> list[QueuedMessage]:
        """Deferred messages whose time has come (taken out of the waiting set)."""
        out = []
        while self._deferred and self._deferred[0][0] <= now:
            _, spool_id = heapq.heappop(self._deferred)
            message = self.waiting.pop(spool_id, None)
            if message is not None:
                out.append(message)
        return out

    def next_due(self) -> float:
        """When the next deferred message is due (``inf`` when none is)."""
        return self._deferred[0][0] if self._deferred else math.inf

    def pop_ready(self) -> QueuedMessage | None:
        """The next message to send, or None."""
        return self.ready.popleft() if self.ready else None

    def wants_connection(self, mono: float, now: float) -> bool:
        """Whether a new connection should open now (work, capacity, rate, not held back)."""
        if self.paused or not self.ready or now < self.retry_at or now < self.hold_until:
            return False
        # No more connections than there is work for: waiting messages plus those in flight.
        if self.connections >= min(self.max_connections(now), len(self.ready) + self.busy):
            return False
        # Nor while no message may go soon (slow or zero rates): an open session would
        # only sit idle until the receiver's timeout closed it.
        self.refresh_rate(mono, now)
        if self.msg_bucket.wait_time(mono) > CONNECT_HORIZON:
            return False
        return self.conn_bucket.try_take(mono)

    # -- what happened -------------------------------------------------------------------

    def note_reply(self, reply: Reply, now: float) -> None:
        """Switch backoff mode on or off by the pattern list; end it when its time is up."""
        self.last_reply = str(reply)
        if reply.is_success:
            self.connection_failures = 0
        line = str(reply)
        for pattern, mode in self._patterns:
            if pattern.search(line):
                if mode == "normal":
                    self.backoff_until = None
                else:
                    self.enter_backoff(now)
                break
        else:
            if reply.is_success and self.settings.backoff_to_normal_after_delivery:
                self.backoff_until = None
        if self.backoff_until is not None and now >= self.backoff_until:
            self.backoff_until = None

    def enter_backoff(self, now: float, seconds: float | None = None) -> None:
        """Backoff mode until ``backoff-to-normal-after`` (or ``seconds``) from ``now``."""
        length = seconds if seconds is not None else self.settings.backoff_to_normal_after
        # backoff-to-normal-after never: only a mode=normal pattern or a delivery ends it.
        self.backoff_until = now + length if length is not None else math.inf

    def connection_failed(self, reply: Reply, now: float) -> float:
        """No session (refused, timed out, greeting 4xx/5xx): hold the queue; return until when."""
        self.connection_failures += 1
        self.last_error = str(reply)
        self.retry_at = now + retry_delay(self.retry_schedule(now), self.connection_failures - 1)
        return self.retry_at

    @property
    def queued(self) -> int:
        """Messages waiting: ready, deferred, or parked in active/ until they can be moved."""
        return len(self.ready) + len(self.waiting) + self.parked

    def status(self, now: float) -> QueueStatus:
        """A snapshot for the management endpoint, as things stand at ``now``."""
        backoff = self.backoff_until if self.is_backing_off(now) else None
        return QueueStatus(
            queue=self.queue,
            vmta=self.vmta,
            queued=self.queued,
            deferred=len(self.waiting),
            connections=self.connections,
            max_smtp_out=self.max_connections(now),
            msg_rate=self.msg_rate(now).per_second,
            total_max_smtp_out=self.total_connections(now),
            total_msg_rate=self.total_msg_rate(now).per_second,
            workers=self.share.count,
            configured_msg_rate=self.settings.max_msg_rate.per_second,
            delivered=self.delivered,
            bounced=self.bounced,
            transient_failures=self.transient,
            backoff=backoff is not None,
            backoff_until=(
                datetime.fromtimestamp(backoff, UTC)
                if backoff is not None and not math.isinf(backoff)
                else None
            ),
            paused=self.paused,
            last_reply=self.last_reply,
            last_error=self.last_error,
            override=self.override_reason if self.has_override(now) else "",
            held_until=(
                datetime.fromtimestamp(self.hold_until, UTC) if self.hold_until > now else None
            ),
        )

"""``acctpipe demo``: tell what happens as it happens, from the stores the loop writes.

A :class:`Narrator` is polled twice a second. Each poll reads what is new —
events the tailer committed to DuckDB, suppression changes (the change feed's
cursor), throttle decisions, webhook deliveries — and prints one line per
notable thing: the first bounce of each class per destination, the first
deferrals, every complaint and throttle decision, the first suppressions one by
one and the rest as running counts. It never writes anything.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from rich.console import Console
from rich.markup import escape

from acctpipe.analytics import throttle_history
from acctpipe.api import Services
from acctpipe.cli.console import styled
from acctpipe.demo.receiver import WebhookReceiver
from acctpipe.sqlstore.suppressions import Change
from mta.status import QueueStatus

__all__ = ["Narrator", "Seen"]

_NEW_EVENTS: Final = """
SELECT rowid, type, bounce_class, bounce_category, rcpt, rcpt_domain, dsn_diag, vmta
FROM events WHERE rowid > ? AND type IN ('b', 'rb', 't', 'f')
ORDER BY rowid LIMIT 20000"""
_ONE_BY_ONE: Final = 3  # suppressions of a reason printed one by one before counting
_EVERY: Final = 8.0  # seconds between two rounds of running counts
_BACKLOG: Final = 20  # messages waiting in a queue before its state is worth a line

# What each kind of outcome means for the loop, said once, on its first occurrence.
_MEANING: Final[dict[tuple[str, str], str]] = {
    ("b", "hard"): "the address does not exist: suppressed for good",
    ("b", "soft"): "a soft bounce: counted; suppressed only after 5 within 7 days",
    ("b", "spam"): "the receiver refuses us, not the recipient: no suppression; "
    "the throttle controller pauses the queue",
    ("t", "soft"): "deferred: retried in a few seconds",
    ("t", "spam"): "deferred because we send too fast: the throttle controller counts these",
}


@dataclass(slots=True)
class Seen:
    """What the narrator has read and reported so far."""

    rowid: int = -1
    cursor: int = 0
    throttle_id: int = 0
    kinds: set[tuple[str, str, str]] = field(default_factory=set)
    suppressions: Counter[str] = field(default_factory=Counter)
    unreported: Counter[str] = field(default_factory=Counter)
    complaints: int = 0
    throttles: Counter[str] = field(default_factory=Counter)
    repeats: Counter[str] = field(default_factory=Counter)  # unprinted repeats per pair
    last_action: dict[str, str] = field(default_factory=dict)
    webhooks: int = 0
    counted_at: float = 0.0


class Narrator:
    """Print what the loop does; call :meth:`poll` from a worker thread, often."""

    def __init__(
        self,
        out: Console,
        services: Services,
        receiver: WebhookReceiver,
        *,
        started: float,
        since: datetime,
    ) -> None:
        self.out = out
        self.services = services
        self.receiver = receiver
        self.started = started
        self.since = since
        self.seen = Seen(counted_at=time.monotonic())

    def say(self, text: str) -> None:
        """One narration line, stamped with the seconds since the demo started."""
        stamp = f"[dim]{time.monotonic() - self.started:5.1f}s[/dim]"
        self.out.print(styled(f"{stamp}  {text}"), soft_wrap=True)  # data in text is escaped

    def poll(self, queues: Sequence[QueueStatus] = (), *, final: bool = False) -> None:
        """Read what is new and print it; ``queues`` is a snapshot of the MTA's queues
        (taken on its event loop); ``final`` flushes the running counts."""
        self._events()
        self._suppressions()
        self._throttles()
        now = time.monotonic()
        if final or now - self.seen.counted_at >= _EVERY:
            self.seen.counted_at = now
            self._counts(() if final else queues)

    # -- events ----------------------------------------------------------------------

    def _events(self) -> None:
        source = self.services.events
        if source is None:
            return
        with source.connect() as conn:
            rows = conn.execute(_NEW_EVENTS, [self.seen.rowid]).fetchall()
        for row in rows:
            self.seen.rowid = max(self.seen.rowid, int(row[0]))
            self._event(*row[1:])

    def _event(
        self,
        kind: str,
        cls: Any,
        category: Any,
        rcpt: Any,
        domain: Any,
        diag: Any,
        vmta: Any,
    ) -> None:
        if kind == "f":
            self.seen.complaints += 1
            self.say(
                f"[magenta]complaint[/]  an ARF report from {escape(str(domain or '?'))} "
                f"about {escape(str(rcpt or '?'))} (the recipient pressed 'spam')"
            )
            return
        kind = "b" if kind == "rb" else kind
        key = (kind, str(cls), str(domain))
        if key in self.seen.kinds or (kind, str(cls)) not in _MEANING:
            return
        self.seen.kinds.add(key)
        label = {"b": "bounce", "t": "deferral"}[kind]
        colour = {"hard": "red", "soft": "yellow", "spam": "bright_red"}.get(str(cls), "white")
        text = _short(str(diag).removeprefix("smtp;"))
        self.say(
            f"[{colour}]{cls} {label}[/]  {escape(str(rcpt))} via {escape(str(vmta))} "
            f"({escape(str(category))}): [dim]{escape(text)}[/dim]\n"
            f"{'':8}→ {_MEANING[(kind, str(cls))]}"
        )

    # -- suppressions and throttles ----------------------------------------------------

    def _suppressions(self) -> None:
        store = self.services.suppressions
        while changes := store.changes_since(self.seen.cursor, 1000):
            for change in changes:
                self.seen.cursor = change.cursor
                if change.op == "add":
                    self._suppressed(change)

    def _suppressed(self, change: Change) -> None:
        reason = change.reason
        self.seen.suppressions[reason] += 1
        if self.seen.suppressions[reason] > _ONE_BY_ONE and reason != "complaint":
            self.seen.unreported[reason] += 1
            return
        tail = " — the CRM is told (webhook)" if change.notify else ""
        self.say(
            f"[cyan]suppressed[/] {escape(change.address)} ({reason}): "
            f"[dim]{escape(change.detail)}[/dim]{tail}"
        )
        if self.seen.suppressions[reason] == _ONE_BY_ONE and reason != "complaint":
            self.say(f"{'':8}[dim](further {reason} suppressions are counted below)[/dim]")

    def _throttles(self) -> None:
        engine = self.services.engine
        result = throttle_history(engine, since=self.since, limit=1000)
        columns = result.columns
        for values in reversed(result.rows):
            row = dict(zip(columns, values, strict=True))
            if int(row["id"]) <= self.seen.throttle_id:
                continue
            self.seen.throttle_id = int(row["id"])
            self.seen.throttles[str(row["action"])] += 1
            pair = f"{row['queue']}/{row['vmta']}"
            if self.seen.last_action.get(pair) == row["action"] == "pause":
                self.seen.repeats[pair] += 1  # the receiver still blocks: counted below
                continue
            self.seen.last_action[pair] = str(row["action"])
            self.say(
                f"[green]throttle[/]   {escape(str(row['queue']))}/{escape(str(row['vmta']))}: "
                f"[bold]{row['action']}[/bold] by rule {escape(str(row['rule']))} — "
                f"{escape(str(row['detail']))}"
            )

    def _counts(self, queues: Sequence[QueueStatus]) -> None:
        if self.seen.unreported:
            parts = ", ".join(
                f"+{n} {reason} ({self.seen.suppressions[reason]} in all)"
                for reason, n in sorted(self.seen.unreported.items())
            )
            self.say(f"[cyan]suppressed[/] {parts}")
            self.seen.unreported.clear()
        for pair, n in sorted(self.seen.repeats.items()):
            self.say(
                f"[green]throttle[/]   {escape(pair)}: paused {n} more time{'s' if n > 1 else ''}"
                " — the receiver still refuses us (each pause longer, up to max-backoff)"
            )
        self.seen.repeats.clear()
        for queue in queues:
            self._queue(queue)
        delivered = self.receiver.total
        if delivered != self.seen.webhooks:
            self.seen.webhooks = delivered
            counts, refused = self.receiver.snapshot()
            kinds = ", ".join(f"{k} {n}" for k, n in counts.most_common())
            bad = f"; {refused} failed verification" if refused else ""
            self.say(
                f"[blue]webhooks[/]   {delivered} signed deliveries verified by the CRM "
                f"receiver ({kinds}){bad}"
            )

    def _queue(self, queue: QueueStatus) -> None:
        """A line for a queue with a backlog worth mentioning, and why it has one."""
        waiting = queue.queued - queue.deferred
        now = datetime.now(UTC)
        held = queue.held_until is not None and queue.held_until > now
        if waiting == 0 or (waiting < _BACKLOG and not held):
            return
        name = f"{escape(queue.queue)}/{escape(queue.vmta)}"
        if held and queue.held_until is not None:
            left = math.ceil((queue.held_until - now).total_seconds())
            state = f"paused ({left} s left)"
        else:
            state = f"sending at {queue.msg_rate:.3g} msg/s"
        why = f" — {queue.override.split(':')[0]}" if queue.override else ""
        self.say(f"[white]queue[/]      {name}: {waiting:,} waiting, {state}{escape(why)}")


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"

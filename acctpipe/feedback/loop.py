"""The policy loop: new events from DuckDB → suppression and throttle decisions → SQL store.

It runs inside the tailer (after every pass, so within moments of a row being
committed) and on its own timer for throttle ramps. Progress is kept in DuckDB
(``feedback_progress``): decisions are idempotent, so a crash between storing
them and saving the progress only makes the next run look at that batch again
— nothing is missed, nothing is applied twice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from acctpipe.errors import SqlStoreError
from acctpipe.feedback.events import (
    history,
    last_rowid,
    load_progress,
    new_events,
    save_progress,
)
from acctpipe.policy.address import suppression_key
from acctpipe.policy.suppression import (
    SuppressionPolicy,
    decide_suppressions,
    default_suppression_policy,
    history_addresses,
    history_query_window,
)
from acctpipe.policy.throttle import PairBounds, ThrottleController, ThrottleRules
from acctpipe.policy.types import Event
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.config import Config, effective_settings
from mta.failurelog import FailureLog

__all__ = ["LoopStats", "PolicyLoop", "bounds_from_config"]

log = logging.getLogger("acctpipe.feedback")
EXPIRE_SECONDS = 60.0  # how often lapsed suppressions are turned into tombstones
_NO_BOUNDS = PairBounds(math.inf, False, 30.0, 86400.0, 1.5)


@dataclass(slots=True)
class LoopStats:
    """Running totals, for logs and the CLI summary."""

    events: int = 0
    suppressions: int = 0
    throttle_decisions: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


def bounds_from_config(config: Config | None) -> Callable[[str, str], PairBounds]:
    """The controller's limits per (queue, vmta), from the MTA config (none: hands off)."""
    cache: dict[tuple[str, str], PairBounds] = {}

    # A queue-to name is not a domain: read its settings from a domain that feeds it.
    feeders: dict[str, str] = {}
    for block in config.domains if config is not None else ():
        target = block.values.get("queue-to")
        if isinstance(target, str) and block.names:
            feeders.setdefault(target.lower(), block.names[0])

    def bounds(queue: str, vmta: str) -> PairBounds:
        if config is None:
            return _NO_BOUNDS
        key = (queue, vmta)
        if key not in cache:
            known = vmta if vmta in config.virtual_mtas else None
            domain = feeders.get(queue.lower(), queue)
            try:
                settings = effective_settings(config, domain, known).settings
            except ValueError:
                cache[key] = _NO_BOUNDS
            else:
                cache[key] = PairBounds.from_settings(settings)
        return cache[key]

    return bounds


class PolicyLoop:
    """Decide on events as they arrive; store the decisions for the MTA to follow."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        suppressions: SuppressionStore,
        throttles: ThrottleStore,
        *,
        policy: SuppressionPolicy | None = None,
        rules: ThrottleRules | None = None,
        config: Config | None = None,
        name: str = "policy",
        batch: int = 50_000,
        backfill: bool = False,
    ) -> None:
        self.conn = conn
        self.suppressions = suppressions
        self.throttles = throttles
        self._failures = FailureLog(log, "the feedback loop")  # once, then summaries
        self.policy = policy or default_suppression_policy()
        queue_of = None
        if config is not None:
            cfg = config

            def queue_of(domain: str) -> str:
                return effective_settings(cfg, domain).queue

        self.controller = ThrottleController(rules, queue_of=queue_of)
        self.bounds = bounds_from_config(config)
        self.name = name
        self.batch = batch
        self.stats = LoopStats()
        self._expired_at = 0.0
        if load_progress(conn, name) is None:
            # First run over a store that may hold months of events: act on what arrives
            # from now on, unless asked to go through the history (every old hard bounce
            # and complaint would become a suppression, and a notification).
            start = -1 if backfill else last_rowid(conn)
            save_progress(conn, name, start)
            if start >= 0:
                log.info(
                    "feedback loop starts after event %d (older: tail --feedback-backfill)",
                    start,
                )

    @classmethod
    def from_files(
        cls,
        conn: duckdb.DuckDBPyConnection,
        suppressions: SuppressionStore,
        throttles: ThrottleStore,
        *,
        config: Path | None = None,
        policy: Sequence[Path] = (),
        backfill: bool = False,
    ) -> PolicyLoop:
        """A loop with the policy TOML files over the defaults and the MTA config's bounds."""
        from acctpipe.policy.suppression import PolicyText, load_suppression_policy
        from acctpipe.policy.throttle import load_throttle_rules
        from mta.config import load_config

        texts = [PolicyText(str(p), p.read_text(encoding="utf-8")) for p in policy]
        return cls(
            conn,
            suppressions,
            throttles,
            policy=load_suppression_policy(*texts),
            rules=load_throttle_rules(*texts),
            config=load_config(config) if config else None,
            backfill=backfill,
        )

    def run_once(self, now: datetime | None = None) -> int:
        """Act on everything committed since the last run; return the events read.

        A database that cannot be reached (or refuses a write) is logged and the
        batch is tried again on the next run — ingestion goes on meanwhile.
        """
        try:
            read = self._run(now or datetime.now(UTC))
        except (SqlStoreError, OSError, duckdb.Error) as exc:
            self._failures.failed(exc)  # kept to its first line by FailureLog
            return 0
        self._failures.succeeded()
        return read

    def _run(self, now: datetime) -> int:
        read = 0
        while True:
            after = load_progress(self.conn, self.name)
            after = -1 if after is None else after
            events, last = new_events(self.conn, after, self.batch)
            if last == after:
                break
            self._decide(events, now)
            save_progress(self.conn, self.name, last)
            read += len(events)
        self._throttle(now)
        if now.timestamp() - self._expired_at >= EXPIRE_SECONDS:
            self._expired_at = now.timestamp()
            self.suppressions.expire(now)
        return read

    def _decide(self, events: list[Event], now: datetime) -> None:
        self.stats.events += len(events)
        wanted = set(history_addresses(events, self.policy))
        raw = {e.rcpt for e in events if suppression_key(e.rcpt) in wanted}
        since = now - history_query_window(self.policy)
        found: dict[str, list[Event]] = {}
        for address, past in history(self.conn, raw, since).items():
            key = suppression_key(address)
            if key is not None:
                found.setdefault(key, []).extend(past)
        decisions = decide_suppressions(events, found, self.policy, now)
        if decisions:
            changes = self.suppressions.apply(decisions, skip_invalid=True)
            self.stats.suppressions += len(changes)
            for change in changes:
                self.stats.by_reason[change.reason] = self.stats.by_reason.get(change.reason, 0) + 1
                log.info("suppressed %s (%s): %s", change.address, change.reason, change.detail)
        self.controller.observe(events)

    def _throttle(self, now: datetime) -> None:
        for decision in self.controller.decide(now, self.bounds):
            self.throttles.record(decision)
            self.stats.throttle_decisions += 1
            log.info(
                "throttle %s/%s: %s (%s) %s",
                decision.queue,
                decision.vmta,
                decision.action,
                decision.rule,
                decision.detail,
            )

"""The running MTA follows the store: suppressions from the change log, throttles from decisions.

At start the whole suppression list is loaded (streamed in batches); then the
change log is polled from the last cursor seen, several times a second, so an
address suppressed anywhere is refused at RCPT within moments — and the MTA
never queries the database per recipient. Active throttle decisions become the
engine's live overrides (a ``normal`` decision simply means none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from acctpipe.suppress import (
    TOMBSTONES,
    Change,
    StoredThrottle,
    SuppressionStore,
    ThrottleStore,
    normalise_domain,
)
from mta.queue import Override
from mta.runtime import Mta
from mta.suppression import SuppressionEntry, SuppressionSet, plain_domain

__all__ = ["MtaFollower", "entries", "overrides"]

log = logging.getLogger("acctpipe.feedback")


def _domain(domain: str) -> str:
    try:
        return normalise_domain(domain)
    except ValueError:
        return plain_domain(domain)  # not a domain the store could hold: compare as written


def entries(changes: Iterable[Change]) -> list[SuppressionEntry]:
    """Change-log entries as the MTA's set takes them."""
    return [
        SuppressionEntry(
            c.address,
            c.scope,
            c.reason,
            c.expires_at.timestamp() if c.expires_at else None,
            removed=c.op in TOMBSTONES,
        )
        for c in changes
    ]


def overrides(active: Iterable[StoredThrottle]) -> list[Override]:
    """Active throttle decisions as engine overrides (``normal`` lifts, so it gives none)."""
    out = []
    for stored in active:
        d = stored.decision
        if d.action == "normal":
            continue
        until = d.expires_at.timestamp()
        paused = None
        if d.action == "pause":
            # The pause lasts pause_s; the decision may last longer, carrying a slow rate.
            start = d.decided_at.timestamp()
            paused = start + d.evidence.get("pause_s", until - start)
        out.append(
            Override(
                d.queue,
                d.vmta or "*",
                rate=d.rate,
                max_smtp_out=d.max_smtp_out,
                paused_until=paused,
                expires_at=until,
                reason=f"{d.rule}: {d.detail}" if d.detail else d.rule,
            )
        )
    return out


class MtaFollower:
    """Keep an MTA's suppression set and throttle overrides in step with the store."""

    def __init__(
        self,
        mta: Mta,
        suppressions: SuppressionStore,
        throttles: ThrottleStore,
        *,
        interval: float = 0.25,
        throttle_interval: float = 1.0,
    ) -> None:
        self.mta = mta
        self.suppressions = suppressions
        self.throttles = throttles
        self.interval = interval
        self.throttle_interval = throttle_interval
        self._task: asyncio.Task[None] | None = None
        # The lenient key: a row stored before the address check must still suppress.
        mta.suppressions = SuppressionSet(suppressions.key, _domain)

    async def start(self) -> None:
        """Load the whole list (the MTA may already be accepting), then follow changes."""
        await asyncio.to_thread(self._load_all)
        await self._poll_throttles()
        self._task = asyncio.create_task(self._follow(), name="suppression-follower")

    def _load_all(self) -> None:
        target = self.mta.suppressions
        # The cursor is read first: changes made while the list streams in are applied
        # again afterwards, which is harmless (applying a change twice is a no-op).
        cursor = self.suppressions.last_cursor()
        now = datetime.now(UTC)
        batch: list[SuppressionEntry] = []
        for s in self.suppressions.iter_all():
            if s.is_active(now):
                expires = s.expires_at.timestamp() if s.expires_at else None
                batch.append(SuppressionEntry(s.address, s.scope, s.reason, expires))
            if len(batch) >= 10_000:
                target.apply(batch)
                batch = []
        target.apply(batch)
        target.cursor = cursor
        log.info("suppression list loaded: %d entries (cursor %d)", len(target), cursor)

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        last_throttle = time.monotonic()
        while True:
            try:
                await self._poll_changes()
                if time.monotonic() - last_throttle >= self.throttle_interval:
                    last_throttle = time.monotonic()
                    await self._poll_throttles()
            except Exception:  # a database hiccup must not stop the MTA; retry next tick
                log.exception("following the suppression store failed; retrying")
            await asyncio.sleep(self.interval)

    async def _poll_changes(self) -> None:
        target = self.mta.suppressions
        while True:
            changes = await asyncio.to_thread(self.suppressions.changes_since, target.cursor, 5000)
            if not changes:
                last = await asyncio.to_thread(self.suppressions.last_cursor)
                if last < target.cursor:
                    # The log went backwards (a restored or recreated database): what we
                    # hold no longer matches it, so start again from a full load.
                    log.warning("change log went back (%d < %d): reloading", last, target.cursor)
                    target.clear()
                    await asyncio.to_thread(self._load_all)
                return
            target.apply(entries(changes))
            target.cursor = changes[-1].cursor

    async def _poll_throttles(self) -> None:
        active = await asyncio.to_thread(self.throttles.active, datetime.now(UTC))
        self.mta.set_overrides(overrides(active))

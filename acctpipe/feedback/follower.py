"""The running MTA follows the store: suppressions from the change log, throttles from decisions.

At start the whole suppression list is loaded as stored keys straight into the
set's arrays (:mod:`acctpipe.sqlstore.suppressions.keys`: nothing normalised or
hashed per row); then the change log is polled from the last cursor seen,
several times a second, again by stored key, so an address suppressed anywhere
is refused at RCPT within moments — and the MTA never queries the database per
recipient. The changes pile up beside the set's packed base and are merged into
a new one in a worker thread when they grow (:meth:`~mta.suppression.SuppressionSet.
begin_compaction`).

The MTA server starts its companions, this follower among them, before its
listeners and its delivery engine: **no listener opens, and nothing is sent,
until the whole list is loaded** (or the snapshot, below, stands in for it). A
reload while running (the log went back) is built aside and swapped in whole.

Active throttle decisions become the engine's live overrides (a ``normal``
decision simply means none).

The store may be down or frozen; the MTA goes on refusing from what it holds.
The follower keeps a snapshot of the set and its cursor on local disk
(``snapshot``: rewritten atomically when it changed, at most every
``snapshot_every`` seconds, and at stop). If the store cannot be reached at
start, the snapshot is loaded instead and the MTA starts on it; the follower
keeps retrying and catches up from the snapshot's cursor when the store
returns. A poll that gets no answer for ``stall_after`` seconds, or a run of
failures, is logged once and then summarised (:class:`~mta.failurelog.FailureLog`),
and :meth:`MtaFollower.health` reports it (``/readyz``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from acctpipe.sqlstore.suppressions import (
    TOMBSTONES,
    Change,
    StoredThrottle,
    SuppressionStore,
    ThrottleStore,
    normalise_domain,
)
from acctpipe.sqlstore.suppressions.keys import key_changes_since, load_keys
from mta.delivery.queue import Override
from mta.errors import StoreError
from mta.failurelog import FailureLog
from mta.node.runtime import Mta
from mta.suppression import SuppressionEntry, SuppressionSet, plain_domain

__all__ = ["MtaFollower", "entries", "overrides"]

log = logging.getLogger("acctpipe.feedback")
_CHANGES = 20_000  # change-log rows per read while catching up


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
        snapshot: Path | None = None,
        snapshot_every: float = 10.0,
        stall_after: float = 10.0,
    ) -> None:
        self.mta = mta
        self.suppressions = suppressions
        self.throttles = throttles
        self.interval = interval
        self.throttle_interval = throttle_interval
        self.snapshot = snapshot
        self.snapshot_every = snapshot_every
        self.stall_after = stall_after
        self.on_snapshot: str | None = None  # set while running on the local snapshot
        self._task: asyncio.Task[None] | None = None
        self._merging: asyncio.Task[None] | None = None
        self._ok_at = time.monotonic()
        self._saved_cursor = -1
        self._saved_at = 0.0
        self._failures = FailureLog(log, "following the suppression store")
        self._save_failures = FailureLog(log, "writing the suppression snapshot")
        # The lenient key: a row stored before the address check must still suppress.
        mta.suppressions = SuppressionSet(suppressions.key, _domain)

    async def start(self) -> None:
        """Load the whole list (the MTA may already be accepting), then follow changes.

        With the store unreachable, start from the local snapshot instead (and keep
        trying the store); without one, raise :class:`~mta.errors.StoreError`.
        """
        try:
            self.mta.suppressions.replace(await asyncio.to_thread(self._load_all))
        except Exception as exc:  # noqa: BLE001 - any store failure: fall back to the snapshot
            await self._start_from_snapshot(exc)
        else:
            await self._save_snapshot(force=True)
            try:
                await self._poll_throttles()
            except Exception as exc:  # noqa: BLE001 - overrides follow once the store answers
                self._failures.failed(exc)
        self._ok_at = time.monotonic()
        self._task = asyncio.create_task(self._follow(), name="suppression-follower")

    async def _start_from_snapshot(self, error: Exception) -> None:
        target = self.mta.suppressions
        data = None
        if self.snapshot is not None:
            try:
                data = await asyncio.to_thread(self.snapshot.read_bytes)
                target.load_bytes(data)
            except (OSError, ValueError) as exc:
                log.error("cannot use the suppression snapshot %s: %s", self.snapshot, exc)
                data = None
        if data is None:
            target.clear()
            raise StoreError(
                f"the suppression store cannot be reached ({error}) and there is no usable"
                " local snapshot: refusing to send without the suppression list",
                path=str(self.snapshot) if self.snapshot is not None else None,
            ) from error
        self._saved_cursor = target.cursor
        self.on_snapshot = f"{len(target)} entries, cursor {target.cursor}"
        self._failures.failed(error)
        log.warning(
            "suppression store unreachable: starting on the local snapshot %s (%s)",
            self.snapshot,
            self.on_snapshot,
        )

    def _load_all(self) -> SuppressionSet:
        """The whole list, read into a new set (in a worker thread): the caller swaps it in
        on the loop, so the MTA refuses from the old set until the new one is complete."""
        target = SuppressionSet(self.suppressions.key, _domain)
        # The cursor is read first: changes made while the list is read are applied
        # again afterwards, which is harmless (applying a change twice is a no-op).
        cursor = self.suppressions.last_cursor()
        started = time.monotonic()
        stored = load_keys(self.suppressions.engine, self.suppressions.key, datetime.now(UTC))
        target.load_arrays(stored.keys, stored.codes, stored.expiring, stored.expires_at, runs=True)
        target.cursor = cursor
        log.info(
            "suppression list loaded: %d entries in %.1f s (cursor %d)",
            len(target),
            time.monotonic() - started,
            cursor,
        )
        return target

    async def stop(self) -> None:
        """Stop following (and save the snapshot if the set changed since the last one)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if self._merging is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._merging  # the snapshot below then needs no merge of its own
                self._merging = None
            await self._save_snapshot(force=True)

    def health(self) -> str | None:
        """None while the set follows the store; else why it does not (for ``/readyz``)."""
        if self._task is None:
            return None
        if self._task.done():
            return "the suppression follower stopped"
        # /readyz answers without a key: a driver's error names the store's host and
        # port, so only our own "no answer for N s" is shown; the rest is in the log.
        last = self._failures.last_error
        failing = last if last.startswith("no answer") or not last else "details in the log"
        failing = failing or "no answer"
        if self.on_snapshot is not None:
            return (
                f"the suppression store cannot be reached ({failing}): refusing from the"
                f" local snapshot ({self.on_snapshot}); retrying"
            )
        age = time.monotonic() - self._ok_at
        if age > self.stall_after:
            return (
                f"the suppression list has not been refreshed for {age:.0f} s ({failing}):"
                " refusing from the copy in memory; retrying"
            )
        return None

    async def _follow(self) -> None:
        last_throttle = time.monotonic()
        while True:
            due = time.monotonic() - last_throttle >= self.throttle_interval
            tick = asyncio.ensure_future(self._tick(due))
            try:
                while not tick.done():
                    # A frozen store answers nothing: say so instead of waiting silently
                    # (the database's client-side deadline ends the call in the end).
                    await asyncio.wait({tick}, timeout=self.stall_after)
                    if not tick.done():
                        self._failures.failed(f"no answer for {self.stall_after:.0f} s")
                tick.result()
            except Exception as exc:  # noqa: BLE001 - a store outage must not stop the MTA
                self._failures.failed(exc)
            else:
                self._failures.succeeded()
                self._ok_at = time.monotonic()
                if self.on_snapshot is not None:
                    log.info("suppression store back: caught up from the snapshot's cursor")
                    self.on_snapshot = None
                if due:
                    last_throttle = time.monotonic()
                await self._save_snapshot()
            finally:
                tick.cancel()
            await asyncio.sleep(self.interval)

    async def _tick(self, throttles: bool) -> None:
        await self._poll_changes()
        if throttles:
            await self._poll_throttles()

    async def _save_snapshot(self, *, force: bool = False) -> None:
        """Write the snapshot if the set changed (and, unless ``force``, it is time)."""
        target = self.mta.suppressions
        if self.snapshot is None or target.cursor == self._saved_cursor:
            return
        if not force and time.monotonic() - self._saved_at < self.snapshot_every:
            return
        cursor = target.cursor
        make = target.snapshot()  # a copy of the changes, taken on the loop
        data = await asyncio.to_thread(make)
        try:
            await asyncio.to_thread(_write_atomic, self.snapshot, data)
        except OSError as exc:
            self._save_failures.failed(exc)
            return
        self._save_failures.succeeded()
        self._saved_cursor, self._saved_at = cursor, time.monotonic()

    async def _poll_changes(self) -> None:
        target = self.mta.suppressions
        engine, key = self.suppressions.engine, self.suppressions.key
        while True:
            changes, last = await asyncio.to_thread(
                key_changes_since, engine, target.cursor, _CHANGES, key
            )
            if last == target.cursor:
                last = await asyncio.to_thread(self.suppressions.last_cursor)
                if last < target.cursor:
                    # The log went backwards (a restored or recreated database): what we
                    # hold no longer matches it, so start again from a full load.
                    log.warning("change log went back (%d < %d): reloading", last, target.cursor)
                    target.replace(await asyncio.to_thread(self._load_all))
                return
            target.apply_keys(changes)
            target.cursor = last
            if target.needs_compaction() and (self._merging is None or self._merging.done()):
                # Beside the polling, not in it: at tens of millions of entries a merge
                # takes seconds, and the log must go on being read meanwhile.
                self._merging = asyncio.create_task(self._compact(), name="suppression-merge")

    async def _compact(self) -> None:
        """Merge the changes into a new packed base in a worker thread, then swap it in
        (changes applied meanwhile are kept; a reload meanwhile voids the merge)."""
        target = self.mta.suppressions
        job = target.begin_compaction()
        try:
            await asyncio.to_thread(job.build)  # numpy, mostly without the GIL
        except Exception:  # e.g. out of memory: the changes stay beside the base
            log.exception("merging the suppression changes failed; will try again")
            return
        target.end_compaction(job)

    async def _poll_throttles(self) -> None:
        active = await asyncio.to_thread(self.throttles.active, datetime.now(UTC))
        self.mta.set_overrides(overrides(active))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".new")
    try:
        with scratch.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        scratch.replace(path)
    except OSError:
        scratch.unlink(missing_ok=True)
        raise

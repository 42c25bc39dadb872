"""A full reload of the suppression list never leaves the MTA without it, even briefly."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acctpipe.feedback.follower import MtaFollower
from acctpipe.policy.types import SuppressionDecision
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.node.runtime import Mta, MtaOptions

ROWS = 8_000


def _decision(address: str) -> SuppressionDecision:
    now = datetime.now(UTC)
    return SuppressionDecision(address, "global", "manual", (), now)


@pytest.mark.slow
async def test_a_restored_store_is_reloaded_without_a_gap_in_suppression(tmp_path: Path) -> None:
    """When the store's change log goes back (a database restored from a backup), the
    follower reloads the whole list; an address suppressed before and after is refused
    all through the reload (the set was emptied first and refilled batch by batch, so
    for a moment the MTA would have sent to it)."""
    db = tmp_path / "store.sqlite"
    engine = open_database(f"sqlite:///{db}")
    store = SuppressionStore(engine)
    store.apply([_decision(f"u{n}@example.com") for n in range(ROWS)])
    store.apply([_decision("kept@example.com")])
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(db) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    store.apply([_decision(f"later{n}@example.com") for n in range(5)])
    mta = Mta(
        parse_config_text("suppressed-recipients reject\n"),
        MtaOptions(tmp_path / "mta", resolver=StaticResolver()),
    )
    follower = MtaFollower(mta, store, ThrottleStore(engine), interval=0.01)
    await follower.start()
    try:
        ahead = mta.suppressions.cursor
        with sqlite3.connect(backup) as copy, sqlite3.connect(db) as live:
            copy.backup(live)  # the restore: the change log is now behind the follower
        misses, deadline = 0, time.monotonic() + 30
        while mta.suppressions.cursor >= ahead or len(mta.suppressions) != ROWS + 1:
            assert time.monotonic() < deadline, "the reload did not finish"
            if mta.suppressed_reason("kept@example.com", "a@sender.test") is None:
                misses += 1
            await asyncio.sleep(0)
        assert misses == 0
        assert mta.suppressed_reason("later0@example.com", "a@sender.test") is None
    finally:
        await follower.stop()
        engine.dispose()

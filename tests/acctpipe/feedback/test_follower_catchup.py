"""A follower far behind the change log catches up by stored key, merging the changes
into its packed set as they pile up, and ends up holding exactly what the store holds."""

from __future__ import annotations

import asyncio
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
from mta.suppression import SuppressionEntry, SuppressionSet

ROWS = 12_000


def _decision(n: int, *, remove: bool = False) -> SuppressionDecision:
    scope = "global" if n % 3 else "domain:news.test"
    return SuppressionDecision(
        f"u{n}@example.com", scope, "complaint", (), datetime.now(UTC), remove=remove
    )


@pytest.mark.slow
async def test_a_follower_catches_up_over_many_changes(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store = SuppressionStore(engine)
    store.apply([_decision(n) for n in range(0, ROWS, 2)])  # loaded at start
    mta = Mta(parse_config_text(""), MtaOptions(tmp_path / "mta", resolver=StaticResolver()))
    follower = MtaFollower(
        mta, store, ThrottleStore(engine), interval=0.01, snapshot=tmp_path / "snap"
    )
    await follower.start()
    try:
        assert len(mta.suppressions) == ROWS // 2
        # Behind by three times the loaded list: adds, then a removal of every fourth.
        for start in range(0, ROWS, 3000):
            store.apply([_decision(n) for n in range(start, start + 3000)])
        store.apply([_decision(n, remove=True) for n in range(0, ROWS, 4)])
        last, deadline = store.last_cursor(), time.monotonic() + 60
        while mta.suppressions.cursor < last:
            assert time.monotonic() < deadline, "the follower did not catch up"
            await asyncio.sleep(0.02)
        assert follower.health() is None
    finally:
        await follower.stop()
    want = SuppressionSet(store.key)
    want.apply(SuppressionEntry(s.address, s.scope, s.reason) for s in store.iter_all())
    assert len(mta.suppressions) == len(want) == ROWS - ROWS // 4
    for n in range(ROWS):
        address = f"u{n}@example.com"
        for sender in ("a@news.test", "a@other.test"):
            expected = want.reason(address, sender=sender)
            assert mta.suppressions.reason(address, sender=sender) == expected
    # The snapshot written at stop holds the same set.
    restored = SuppressionSet(store.key)
    restored.load_bytes((tmp_path / "snap").read_bytes())
    assert len(restored) == len(want)
    assert restored.cursor == last
    engine.dispose()

"""The suppression follower through a store outage: it says so, keeps refusing, catches up."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from acctpipe.feedback.follower import MtaFollower
from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.errors import StoreError
from mta.node.runtime import Mta, MtaOptions
from tests.acctpipe.sqlstore.proxy import FreezableProxy

pytestmark = pytest.mark.slow  # every test here starts an MTA


def _mta(tmp_path: Path) -> Mta:
    config = parse_config_text("suppressed-recipients reject\n")
    return Mta(config, MtaOptions(tmp_path / "mta", resolver=StaticResolver()))


async def _until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_frozen_store_is_reported_logged_briefly_and_caught_up_after(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """While the store is frozen the follower is reported stalled in /readyz's terms, logs
    a handful of lines (not one per poll), refuses from memory, and catches up after."""
    direct = make_engine(postgres_url)
    SuppressionStore(direct).add("old@example.com")
    with FreezableProxy() as proxy:
        url = proxy.url(postgres_url)
        engine = make_engine(url, call_limit=1.0, connect_args={"connect_timeout": 1})
        mta = _mta(tmp_path)
        follower = MtaFollower(
            mta,
            SuppressionStore(engine),
            ThrottleStore(engine),
            interval=0.02,
            stall_after=0.5,
            snapshot=tmp_path / "snap",
        )
        await follower.start()
        try:
            assert mta.suppressed_reason("old@example.com", "a@sender.test") == "manual"
            assert follower.health() is None
            caplog.clear()
            with caplog.at_level(logging.INFO):
                proxy.freeze()
                await _until(lambda: follower.health() is not None)
                assert "not been refreshed" in (follower.health() or "")
                await asyncio.sleep(1.5)  # the outage goes on: polls keep failing
                assert mta.suppressed_reason("old@example.com", "a@sender.test") == "manual"
                SuppressionStore(direct).add("new@example.com")
                proxy.thaw()
                await _until(lambda: mta.suppressed_reason("new@example.com", "") is not None)
                await _until(lambda: follower.health() is None)
            lines = [r for r in caplog.records if r.name == "acctpipe.feedback"]
            assert 1 <= len(lines) <= 4, [r.getMessage() for r in lines]
        finally:
            await follower.stop()
            engine.dispose()
            direct.dispose()


async def test_a_store_down_at_start_uses_the_local_snapshot(
    tmp_path: Path, postgres_url: str
) -> None:
    """A follower that cannot reach the store at start refuses from the last snapshot, says
    so, and catches up from the snapshot's cursor once the store answers; with no
    snapshot it refuses to start."""
    direct = make_engine(postgres_url)
    SuppressionStore(direct).add("kept@example.com")
    snapshot = tmp_path / "suppressions.snapshot"
    first = MtaFollower(
        _mta(tmp_path), SuppressionStore(direct), ThrottleStore(direct), snapshot=snapshot
    )
    await first.start()
    await first.stop()
    assert snapshot.exists()
    with FreezableProxy() as proxy:
        proxy.refuse()
        engine = make_engine(proxy.url(postgres_url), connect_args={"connect_timeout": 1})
        try:
            with pytest.raises(StoreError, match="no usable local snapshot"):
                await MtaFollower(
                    _mta(tmp_path / "b"),
                    SuppressionStore(engine),
                    ThrottleStore(engine),
                    snapshot=tmp_path / "none",
                ).start()
            mta = _mta(tmp_path)
            follower = MtaFollower(
                mta, SuppressionStore(engine), ThrottleStore(engine), interval=0.05,
                snapshot=snapshot,
            )  # fmt: skip
            await follower.start()
            try:
                assert mta.suppressed_reason("kept@example.com", "") == "manual"
                assert "local snapshot" in (follower.health() or "")
                SuppressionStore(direct).add("later@example.com")
                proxy.serve()
                await _until(lambda: mta.suppressed_reason("later@example.com", "") is not None)
                await _until(lambda: follower.health() is None)
            finally:
                await follower.stop()
        finally:
            engine.dispose()
            direct.dispose()

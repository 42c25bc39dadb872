"""Adaptive throttling end to end: a receiver that defers with 421 4.7.0 above 10 msg/s.

The MTA starts at 30 msg/s; the ISP simulator answers ``421 4.7.0 … unexpected volume``
beyond 10/s; the tailer ingests the deferrals; the controller slows the pair below
10/s; the MTA applies it live; after clean deliveries the controller ramps back up.
Every message is delivered in the end and the deferrals stay few.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import pytest

from acctpipe.eventstore import Store
from acctpipe.feedback.follower import MtaFollower
from acctpipe.feedback.loop import PolicyLoop
from acctpipe.ingest.loader import Loader
from acctpipe.policy.throttle import load_throttle_rules
from acctpipe.sim.profile import IspProfile, Replies
from acctpipe.sim.server import IspSimulator
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.config import parse_config_text
from mta.config.values import parse_rate
from mta.delivery.routing import StaticResolver
from mta.node.runtime import Mta, MtaOptions
from mta.submit import Submission
from tests.mta._mta import ACCT, rows, until

MESSAGES = 120
# The packaged ramp waits for 30 clean seconds; a test cannot wait that long.
FAST_RAMP = '[[throttle.rule]]\nid = "clean-ramp"\nwindow = "3s"\n'


@pytest.mark.slow
async def test_controller_slows_below_the_receivers_limit_then_ramps_back(tmp_path: Path) -> None:
    """Slowed below 10/s after the 421 burst, ramped after clean deliveries, nothing lost."""
    profile = IspProfile(
        "volume-limited",
        message_rate=parse_rate("10/s"),
        message_burst=10,
        replies=Replies(
            message_rate="421 4.7.0 [TS01] Messages from {ip} temporarily deferred due to "
            "unexpected volume"
        ),
    )
    async with IspSimulator(profile) as sim:
        text = ACCT + (
            f"<domain *>\n    route 127.0.0.1:{sim.port}\n    max-msg-rate 30/s\n"
            "    max-smtp-out 3\n    retry-after 1s\n    adaptive-throttling yes\n</domain>\n"
        )
        config = parse_config_text(text)
        engine = open_database(f"sqlite:///{tmp_path / 'store.sqlite'}")
        suppressions, throttles = SuppressionStore(engine), ThrottleStore(engine)
        mta = Mta(config, MtaOptions(tmp_path / "mta", resolver=StaticResolver()))
        follower = MtaFollower(mta, suppressions, throttles, interval=0.1, throttle_interval=0.2)
        events = Store.open(tmp_path / "events.duckdb")
        loader = Loader(events)
        loop = PolicyLoop(
            events.conn,
            suppressions,
            throttles,
            rules=load_throttle_rules(FAST_RAMP),
            config=config,
        )

        busy = threading.Lock()  # held while a tick runs in its worker thread

        def tick() -> None:
            with busy:
                loader.load(mta.data_dir / "acct.csv")
                loop.run_once()

        async def drive() -> None:
            while True:
                await asyncio.to_thread(tick)
                await asyncio.sleep(0.2)

        await mta.start()
        await follower.start()
        driver = asyncio.create_task(drive())
        try:
            raw = b"From: news@sender.test\r\nSubject: hi\r\n\r\nHello.\r\n"
            for i in range(MESSAGES):
                await mta.submit(Submission(raw, "news@sender.test", (f"u{i}@example.com",)))
            await until(lambda: mta.engine.totals["delivered"] == MESSAGES, timeout=90)
            history = throttles.history("example.com")
            deferrals = len(rows(mta, "t"))
        finally:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
            await follower.stop()
            await mta.stop(grace=2)
            # Cancelling the driver does not stop a tick already running in its thread:
            # close the event store only once that tick is over (DuckDB refuses a close
            # while its connection is busy).
            with busy:
                events.close()
            engine.dispose()

    actions = [(s.decision.action, s.decision.rate) for s in reversed(history)]
    print(f"decisions: {actions}; deferrals: {deferrals} for {MESSAGES} messages")
    first_slow = next(rate for action, rate in actions if action == "slow")
    assert first_slow is not None
    assert first_slow < 10.0
    assert any(action in ("ramp", "normal") for action, _ in actions)
    assert len(rows(mta, "d")) == MESSAGES
    assert deferrals < MESSAGES // 2

"""Helpers for tests that run the MTA against simulated receivers on loopback."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from mta.config import parse_config_text
from mta.delivery.routing import Resolver, StaticResolver
from mta.node.runtime import Mta, MtaOptions
from mta.submit import Submission

MESSAGE = b"From: News <news@sender.test>\r\nTo: someone\r\nSubject: hello\r\n\r\nHello there.\r\n"
ACCT = """
host-name mta.sender.test
<acct-file acct.csv>
    records d,b,t,tq,r,rb,f
</acct-file>
"""


@asynccontextmanager
async def running_mta(
    config_text: str, data_dir: Path, *, resolver: Resolver | None = None
) -> AsyncIterator[Mta]:
    """An MTA on ``config_text`` (plus an accounting file) with its data under ``data_dir``."""
    config = parse_config_text(ACCT + config_text)
    mta = Mta(config, MtaOptions(data_dir, resolver=resolver or StaticResolver()))
    await mta.start()
    try:
        yield mta
    finally:
        await mta.stop(grace=5)


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def settled(mta: Mta, n: int) -> Callable[[], bool]:
    """True once ``n`` recipients were delivered or bounced for good."""
    return lambda: (
        mta.engine.totals["delivered"] + mta.engine.totals["bounced"] + mta.engine.totals["expired"]
        >= n
    )


def rows(mta: Mta, kind: str | None = None) -> list[dict[str, str]]:
    """The accounting rows written so far (of one type)."""
    for acct in mta.acct_files:
        acct.flush()
    with (mta.data_dir / "acct.csv").open(newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if kind is None or r["type"] == kind]


async def send(mta: Mta, *recipients: str, raw: bytes = MESSAGE, **kw: object) -> list[str]:
    """Submit one message to ``recipients``."""
    return await mta.submit(Submission(raw, "news@sender.test", tuple(recipients), **kw))  # type: ignore[arg-type]

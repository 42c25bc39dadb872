"""State that ends at a time is read at that time, not left over from the last send.

An idle queue gets no reply and no tick, so its backoff mode and a live override
must end on the clock: ``/queues`` is asked at a given instant and answers for it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from mta.config import effective_settings, parse_config_text
from mta.delivery.attempt import Reply
from mta.delivery.queue import DeliveryQueue, Override
from mta.mgmt.app import create_mgmt_app
from mta.status import MtaStatus

T0 = 1_800_000_000.0  # epoch seconds
CONFIG = """
<smtp-pattern-list throttled>
    reply /4\\.7\\.28/ mode=backoff
</smtp-pattern-list>
<domain example.com>
    max-msg-rate 10/s
    max-smtp-out 20
    smtp-pattern-list throttled
    backoff-max-msg-rate 2/s
    backoff-to-normal-after 1m
</domain>
"""
RATE_LIMITED = Reply(421, "4.7.28 Our system has detected an unusual rate of mail")


class ClockedProvider:
    """An MTA status provider over one real queue, read at an injected time."""

    def __init__(self, queue: DeliveryQueue) -> None:
        self.queue = queue
        self.now = T0

    def status(self) -> MtaStatus:
        """The snapshot at :attr:`now`."""
        at = datetime.fromtimestamp(self.now, UTC)
        return MtaStatus(
            host_name="mx.test",
            started_at=datetime.fromtimestamp(T0, UTC),
            now=at,
            config_files=(),
            config_loaded_at=at,
            spool={},
            listeners=(),
            queues=(self.queue.status(self.now),),
            totals={},
        )

    def pause(self, queue: str, vmta: str | None = None) -> int:
        """Not used here."""
        return 0

    def resume(self, queue: str, vmta: str | None = None) -> int:
        """Not used here."""
        return 0

    def reload(self) -> str:
        """Not used here."""
        return ""


def _queue() -> DeliveryQueue:
    config = parse_config_text(CONFIG, "t.conf")
    settings = effective_settings(config, "example.com").settings
    patterns = config.pattern_lists["throttled"]
    return DeliveryQueue("example.com", "default", settings, patterns=patterns)


async def _queues(provider: ClockedProvider, at: float) -> dict[str, object]:
    provider.now = at
    app = create_mgmt_app(provider, lambda: ())
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://mgmt") as client:
        response = await asyncio.wait_for(client.get("/queues"), 10)
        summary = (await client.get("/status")).json()["queues"]
    assert response.status_code == 200
    (queue,) = response.json()["queues"]
    return {**queue, "summary_backoff": summary["backoff"]}


async def test_an_idle_queue_leaves_backoff_at_backoff_to_normal_after() -> None:
    """A queue that matched the pattern list and then sent nothing is out of backoff
    once backoff-to-normal-after has passed: /queues says so, with the normal rate."""
    queue = _queue()
    queue.note_reply(RATE_LIMITED, T0)
    provider = ClockedProvider(queue)

    during = await _queues(provider, T0 + 30)
    assert (during["backoff"], during["msg_rate"], during["summary_backoff"]) == (True, 2.0, 1)
    assert during["backoff_until"] == datetime.fromtimestamp(T0 + 60, UTC).isoformat()

    after = await _queues(provider, T0 + 61)  # no reply, no send in between
    assert (after["backoff"], after["backoff_until"], after["summary_backoff"]) == (False, None, 0)
    assert after["msg_rate"] == 10.0
    assert queue.max_msg_per_connection(T0 + 61) == queue.settings.max_msg_per_connection
    assert queue.retry_schedule(T0 + 61) == queue.settings.retry_after


async def test_an_expired_override_no_longer_limits_an_idle_queue() -> None:
    """A live throttle override that expired while the queue was idle is gone from
    /queues: no reason shown, the configured rate and max-smtp-out in force."""
    queue = _queue()
    Override("example.com", rate=0.5, max_smtp_out=1, expires_at=T0 + 60, reason="slow").apply(
        queue
    )
    provider = ClockedProvider(queue)

    during = await _queues(provider, T0 + 30)
    assert (during["override"], during["msg_rate"], during["max_smtp_out"]) == ("slow", 0.5, 1)

    after = await _queues(provider, T0 + 61)
    assert (after["override"], after["msg_rate"], after["max_smtp_out"]) == ("", 10.0, 20)

"""Two workers on two engines (two nodes sharing a database) deliver each message exactly once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from acctpipe.sqlstore import make_engine
from acctpipe.webhooks import Outbox, WebhookStore, WebhookWorker, summary_event
from tests.acctpipe.webhooks._receiver import Receiver

N = 40


@pytest.mark.slow
def test_two_workers_never_deliver_a_message_twice(db_url: str, receiver: Receiver) -> None:
    """Workers racing for the same outbox split it: the receiver sees each of N webhook-ids once."""
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        store = WebhookStore(engines[0])
        store.create(receiver.url, ["delivery.summary"])
        Outbox(engines[0], cache_seconds=0).publish([summary_event({"n": i}) for i in range(N)])
        start = threading.Barrier(2, timeout=10)
        errors: list[BaseException] = []

        def work(index: int) -> None:
            worker = WebhookWorker(engines[index], node=f"node-{index}", batch=3, concurrency=2)

            async def loop() -> None:
                deadline = time.monotonic() + 15
                while store.stats()["pending"] and time.monotonic() < deadline:
                    await worker.run_once()

            try:
                start.wait()
                asyncio.run(loop())
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        counts = receiver.counts()
        assert len(counts) == N
        assert set(counts.values()) == {1}
        assert store.stats()["delivered"] == N
        nodes = {a.node for m in store.messages(limit=N) for a in store.attempts(m.msg_id)}
        assert nodes <= {"node-0", "node-1"}
    finally:
        for engine in engines:
            engine.dispose()

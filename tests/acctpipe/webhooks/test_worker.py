"""The worker against a real loopback receiver: signed delivery, retries, dead letters, replay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from acctpipe.sqlstore.suppressions import SuppressionStore
from acctpipe.webhooks import (
    DEFAULT_SCHEDULE,
    Message,
    Outbox,
    Subscription,
    WebhookStore,
    WebhookWorker,
    summary_event,
)
from tests.acctpipe.webhooks._helpers import FAST, Clock, drain
from tests.acctpipe.webhooks._receiver import Receiver


def _setup(engine: Engine, url: str, *types: str) -> tuple[WebhookStore, Subscription, Outbox]:
    store = WebhookStore(engine)
    sub = store.create(url, list(types) or ["*"])
    return store, sub, Outbox(engine, cache_seconds=0)


def _only(store: WebhookStore) -> Message:
    (message,) = store.messages()
    return message


async def test_delivers_signed_messages(engine: Engine, receiver: Receiver) -> None:
    """Each message is POSTed once, verifies with the secret, and is marked delivered."""
    store, sub, outbox = _setup(engine, receiver.url)
    suppressions = SuppressionStore(engine, on_changes=outbox.change_hook)
    suppressions.add("john@example.com", reason="complaint")
    worker = WebhookWorker(engine, node="node-a")
    assert await worker.run_once() == 2
    assert await worker.run_once() == 0
    got = receiver.requests()
    assert sorted(r.verify(sub.secret)["type"] for r in got) == ["complaint", "suppression.created"]
    for message in store.messages():
        (request,) = [r for r in got if r.msg_id == message.msg_id]
        assert request.body == message.body
        assert message.status == "delivered"
        assert (message.attempts, message.last_status_code) == (1, 200)
        assert message.delivered_at is not None
        assert message.locked_by is None
        (attempt,) = store.attempts(message.msg_id)
        assert (attempt.status_code, attempt.error, attempt.node) == (200, None, "node-a")
    assert store.stats()["delivered"] == 2


async def test_rotation_signs_with_both_secrets(engine: Engine, receiver: Receiver) -> None:
    """During a rotation, a delivery verifies with the new secret alone and the old one alone."""
    store, sub, outbox = _setup(engine, receiver.url)
    fresh = store.rotate_secret(sub.id)
    outbox.publish([summary_event({"n": 1})])
    await WebhookWorker(engine, node="n").run_once()
    (request,) = receiver.requests()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    request.verify(fresh)
    request.verify(sub.secret)


@pytest.mark.slow
async def test_retries_on_500_with_the_same_webhook_id(engine: Engine, receiver: Receiver) -> None:
    """A 500 is retried after the schedule's delay; every attempt has the same webhook-id, body."""
    store, sub, outbox = _setup(engine, receiver.url)
    outbox.publish([summary_event({"n": 1})])
    receiver.plan.extend(["500", "500"])
    worker = WebhookWorker(engine, node="n", schedule=FAST)
    await drain(worker, lambda: _only(store).status == "delivered")
    requests = receiver.requests()
    assert [r.answer for r in requests] == [500, 500, 200]
    assert len({r.msg_id for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    for r in requests:
        r.verify(sub.secret)
    attempts = store.attempts(_only(store).msg_id)
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert attempts[0].error == "HTTP 500: ok"


async def test_backoff_follows_the_schedule_with_jitter(engine: Engine, receiver: Receiver) -> None:
    """After a failure the next attempt waits the schedule's next delay (± jitter), no less."""
    clock = Clock()
    store, _, _ = _setup(engine, receiver.url)
    Outbox(engine, cache_seconds=0, clock=clock).publish([summary_event({})])
    receiver.plan.extend(["500"] * 3)
    worker = WebhookWorker(engine, node="n", clock=clock, jitter=0.2)
    assert await worker.run_once() == 1
    first = _only(store)
    assert (first.status, first.attempts) == ("pending", 1)
    wait = (first.next_attempt_at - clock.now).total_seconds()
    assert 4.0 <= wait <= 6.0  # 5 s ± 20 %
    assert await worker.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=wait))
    assert await worker.run_once() == 1
    second = _only(store)
    assert 240 <= (second.next_attempt_at - clock.now).total_seconds() <= 360  # 5 min ± 20 %
    assert len(receiver.requests()) == 2


@pytest.mark.slow
async def test_dead_letter_after_the_default_schedule(engine: Engine, receiver: Receiver) -> None:
    """Eight failed attempts over more than 24 h, then the message is dead, never tried again."""
    assert sum(DEFAULT_SCHEDULE, timedelta(0)) >= timedelta(hours=24)
    assert len(DEFAULT_SCHEDULE) == 8
    clock = Clock()
    store, _, _ = _setup(engine, receiver.url)
    Outbox(engine, cache_seconds=0, clock=clock).publish([summary_event({})])
    receiver.plan.extend(["503"] * 8)
    worker = WebhookWorker(engine, node="n", clock=clock, jitter=0)
    for delay in DEFAULT_SCHEDULE:
        clock.advance(delay)
        assert await worker.run_once() == 1
    message = _only(store)
    assert (message.status, message.attempts, message.last_status_code) == ("dead", 8, 503)
    clock.advance(timedelta(days=2))
    assert await worker.run_once() == 0
    assert len(receiver.requests()) == 8
    assert store.stats()["dead"] == 1


async def test_timeouts_are_retried(engine: Engine, receiver: Receiver) -> None:
    """A receiver that does not answer in time counts as a failed attempt and is retried."""
    store, sub, outbox = _setup(engine, receiver.url)
    outbox.publish([summary_event({})])
    receiver.plan.append("hang")
    worker = WebhookWorker(engine, node="n", schedule=FAST, timeout=0.3)
    await drain(worker, lambda: _only(store).status == "delivered")
    attempts = store.attempts(_only(store).msg_id)
    assert [(a.status_code, a.error) for a in attempts] == [
        (None, "timeout after 0.3 s"),
        (200, None),
    ]
    assert len({r.msg_id for r in receiver.requests()}) == 1
    receiver.requests()[-1].verify(sub.secret)


async def test_dead_letter_after_a_tiny_schedule(engine: Engine, receiver: Receiver) -> None:
    """With a three-entry schedule the third failure (a refused connection) kills the message."""
    store, sub, outbox = _setup(engine, receiver.url)
    outbox.publish([summary_event({})])
    receiver.plan.extend(["500", "500"])
    worker = WebhookWorker(engine, node="n", schedule=FAST)
    await drain(worker, lambda: _only(store).attempts == 2)
    store.update(sub.id, url="http://127.0.0.1:9/closed")  # discard port: nothing listens
    await drain(worker, lambda: _only(store).status != "pending")
    message = _only(store)
    assert (message.status, message.attempts, message.last_status_code) == ("dead", 3, None)
    assert message.last_error is not None
    assert "Connect" in message.last_error
    assert sub.secret[6:] not in message.last_error


async def test_gone_disables_the_subscription(engine: Engine, receiver: Receiver) -> None:
    """410 Gone kills the message and disables the subscription; its other messages cancel."""
    store, sub, outbox = _setup(engine, receiver.url)
    outbox.publish([summary_event({"n": 1})])
    receiver.plan.append("410")
    worker = WebhookWorker(engine, node="n", schedule=FAST)
    await worker.run_once()
    assert _only(store).status == "dead"
    found = store.get(sub.id)
    assert found is not None
    assert not found.enabled
    store.update(sub.id, enabled=True)
    outbox.publish([summary_event({"n": 2})])
    store.update(sub.id, enabled=False)
    assert await worker.run_once() == 1
    assert [m.status for m in store.messages()] == ["dead", "cancelled"]
    assert len(receiver.requests()) == 1


@pytest.mark.slow
async def test_redirects_are_not_followed(engine: Engine, receiver: Receiver) -> None:
    """A 3xx answer is a failed attempt: the worker never contacts another URL."""
    store, _, outbox = _setup(engine, receiver.url)
    outbox.publish([summary_event({})])
    receiver.plan.append("302")
    await WebhookWorker(engine, node="n", schedule=FAST).run_once()
    message = _only(store)
    assert (message.status, message.last_status_code) == ("pending", 302)
    assert len(receiver.requests()) == 1


async def test_replay_by_id_and_by_time_range(engine: Engine, receiver: Receiver) -> None:
    """Replay redelivers the chosen messages with their original webhook-id and body."""
    now = datetime.now(UTC)
    store, sub, _ = _setup(engine, receiver.url)
    Outbox(engine, cache_seconds=0, clock=lambda: now - timedelta(hours=2)).publish(
        [summary_event({"n": 1})]
    )
    Outbox(engine, cache_seconds=0, clock=lambda: now - timedelta(hours=1)).publish(
        [summary_event({"n": 2})]
    )
    worker = WebhookWorker(engine, node="n")
    assert await worker.run_once() == 2
    first, second = store.messages()

    assert store.replay([first.msg_id]) == 1
    assert store.message(first.msg_id).status == "pending"  # type: ignore[union-attr]
    assert await worker.run_once() == 1
    assert receiver.counts() == {first.msg_id: 2, second.msg_id: 1}

    assert store.replay(since=now - timedelta(minutes=90), until=now) == 1
    assert await worker.run_once() == 1
    assert receiver.counts() == {first.msg_id: 2, second.msg_id: 2}
    replayed = [r for r in receiver.requests() if r.msg_id == second.msg_id]
    assert replayed[0].body == replayed[1].body == second.body
    replayed[1].verify(sub.secret)
    assert store.replay(subscription_id=sub.id) == 2
    store.delete(sub.id)
    assert store.replay(subscription_id=sub.id) == 0  # deleted: nothing to replay to


async def test_a_crash_after_the_post_redelivers_after_the_lease(
    engine: Engine, receiver: Receiver
) -> None:
    """A worker dying mid-delivery leaves a lease; once expired, another redelivers, same id."""
    store, sub, outbox = _setup(engine, receiver.url)
    outbox.publish([summary_event({})])
    receiver.plan.append("hang")
    crashing = WebhookWorker(engine, node="crashing", timeout=5)
    task = asyncio.create_task(crashing.run_once())
    await asyncio.to_thread(receiver.wait_for, lambda got: len(got) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    leased = _only(store)
    assert leased.status == "pending"
    assert leased.locked_by is not None
    assert leased.locked_by.startswith("crashing/")

    assert await WebhookWorker(engine, node="other").run_once() == 0  # lease still held
    later = Clock(datetime.now(UTC) + timedelta(seconds=61))
    assert await WebhookWorker(engine, node="other", clock=later).run_once() == 1
    assert _only(store).status == "delivered"
    first, second = receiver.requests()
    assert first.msg_id == second.msg_id
    second.verify(sub.secret)


async def test_run_loops_until_stopped(engine: Engine, receiver: Receiver) -> None:
    """run(stop) delivers messages as they arrive and returns once stop is set."""
    store, _, outbox = _setup(engine, receiver.url)
    stop = asyncio.Event()
    task = asyncio.create_task(WebhookWorker(engine, node="n").run(stop, idle=0.02))
    outbox.publish([summary_event({})])
    await asyncio.to_thread(receiver.wait_for, lambda got: len(got) == 1)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert _only(store).status == "delivered"


def test_settings_are_checked(engine: Engine) -> None:
    """A lease shorter than a request, an empty schedule or silly jitter is refused up front."""
    with pytest.raises(ValueError, match="lease"):
        WebhookWorker(engine, node="n", timeout=60)
    with pytest.raises(ValueError, match="schedule"):
        WebhookWorker(engine, node="n", schedule=[])
    with pytest.raises(ValueError, match="jitter"):
        WebhookWorker(engine, node="n", jitter=1.5)


async def test_the_worker_rides_out_a_sql_store_that_cannot_be_reached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that refuses connections raises SqlStoreUnavailableError from a batch; the
    worker logs it (without the password) and keeps running until told to stop."""
    from acctpipe.sqlstore import make_engine

    engine = make_engine(
        "postgresql://bob:pw-9d1@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    worker = WebhookWorker(engine, node="node-a")
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(worker.run(stop, idle=0.05))
        await asyncio.sleep(0.5)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 5)
    finally:
        engine.dispose()
    assert "the SQL store is unavailable" in caplog.text
    assert "pw-9d1" not in caplog.text

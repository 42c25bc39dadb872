"""The outbox: messages commit with their decision, and only for matching subscriptions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore.suppressions import Change, SuppressionStore, ThrottleStore
from acctpipe.webhooks import Outbox, WebhookStore, new_msg_id, summary_event

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class BoomError(Exception):
    """Raised by a hook to make the surrounding transaction roll back."""


def _types(store: WebhookStore) -> list[tuple[int, str]]:
    return [(m.subscription_id, m.event_type) for m in store.messages()]


def test_suppression_change_writes_messages_in_its_transaction(engine: Engine) -> None:
    """A committed suppression change leaves messages in the outbox; a rolled-back one none."""
    hooks = WebhookStore(engine)
    sub = hooks.create("https://crm.example.com/hook", ["*"])
    outbox = Outbox(engine, cache_seconds=0)
    store = SuppressionStore(engine, on_changes=outbox.change_hook)
    store.add("john@example.com", reason="complaint")
    assert _types(hooks) == [(sub.id, "suppression.created"), (sub.id, "complaint")]

    def failing(conn: Connection, changes: Sequence[Change]) -> None:
        outbox.change_hook(conn, changes)
        raise BoomError

    broken = SuppressionStore(engine, on_changes=failing)
    with pytest.raises(BoomError):
        broken.add("jane@example.com", reason="hard-bounce")
    assert broken.get("jane@example.com") == []
    assert len(hooks.messages()) == 2


def test_throttle_decision_writes_messages_in_its_transaction(engine: Engine) -> None:
    """ThrottleStore(on_record=outbox.throttle_hook) announces decisions; a failed one, nothing."""
    hooks = WebhookStore(engine)
    sub = hooks.create("https://crm.example.com/hook", ["throttle.changed"])
    outbox = Outbox(engine, cache_seconds=0)
    decision = ThrottleDecision(
        queue="gmail.com",
        vmta="ip-1",
        action="slow",
        rule="deferral-burst",
        decided_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        rate=5.0,
    )
    new_id = ThrottleStore(engine, on_record=outbox.throttle_hook).record(decision)
    (message,) = hooks.messages()
    assert (message.subscription_id, message.event_type) == (sub.id, "throttle.changed")
    assert message.payload["data"]["id"] == new_id

    def failing(conn: Connection, decision_id: int, d: ThrottleDecision) -> None:
        outbox.throttle_hook(conn, decision_id, d)
        raise BoomError

    with pytest.raises(BoomError):
        ThrottleStore(engine, on_record=failing).record(decision)
    assert len(hooks.messages()) == 1
    assert len(ThrottleStore(engine).history("gmail.com")) == 1


def test_matching_by_type_filter_and_state(engine: Engine) -> None:
    """Only enabled, undeleted subscriptions wanting the type and passing the filter get one."""
    hooks = WebhookStore(engine)
    everything = hooks.create("https://a.example/", ["*"])
    complaints = hooks.create("https://b.example/", ["complaint"])
    example = hooks.create("https://c.example/", ["*"], filter={"domains": ["example.com"]})
    hard_only = hooks.create("https://d.example/", ["*"], filter={"reasons": ["hard-bounce"]})
    disabled = hooks.create("https://e.example/", ["*"], enabled=False)
    deleted = hooks.create("https://f.example/", ["*"])
    hooks.delete(deleted.id)
    outbox = Outbox(engine, cache_seconds=0)
    store = SuppressionStore(engine, on_changes=outbox.change_hook)

    store.add("john@mail.example.com", reason="complaint")
    store.add("jane@example.net", reason="hard-bounce")
    got = sorted(_types(hooks))
    assert got == sorted(
        [
            (everything.id, "suppression.created"),
            (everything.id, "complaint"),
            (complaints.id, "complaint"),
            (example.id, "suppression.created"),
            (example.id, "complaint"),
            (everything.id, "suppression.created"),
            (everything.id, "hard_bounce"),
            (hard_only.id, "suppression.created"),
            (hard_only.id, "hard_bounce"),
        ]
    )
    assert not {disabled.id, deleted.id} & {s for s, _ in got}


def test_publish_and_message_ids(engine: Engine) -> None:
    """publish() writes delivery.summary in its own transaction; each message has its msg_ id."""
    hooks = WebhookStore(engine)
    hooks.create("https://a.example/", ["delivery.summary"])
    hooks.create("https://b.example/", ["delivery.summary"])
    outbox = Outbox(engine, cache_seconds=0)
    assert outbox.publish([summary_event({"delivered": 5})]) == 2
    assert outbox.publish([]) == 0
    ids = [m.msg_id for m in hooks.messages()]
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"msg_[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
    assert {m.body for m in hooks.messages()} == {hooks.messages()[0].body}
    assert len({new_msg_id() for _ in range(1000)}) == 1000


def test_cache_applies_new_subscriptions_after_invalidate(engine: Engine) -> None:
    """With a cache, a new subscription is seen once the cache expires or is invalidated."""
    hooks = WebhookStore(engine)
    outbox = Outbox(engine, cache_seconds=3600)
    hooks.create("https://a.example/", ["*"])
    assert outbox.publish([summary_event({})]) == 1
    hooks.create("https://b.example/", ["*"])
    assert outbox.publish([summary_event({})]) == 1  # cached
    outbox.invalidate()
    assert outbox.publish([summary_event({})]) == 2


def test_suppression_event_types_cover_every_change() -> None:
    """SUPPRESSION_EVENT_TYPES holds every type a suppression change can raise."""
    from acctpipe.sqlstore.suppressions._merge import REASON_RANK
    from acctpipe.webhooks.events import suppression_events
    from acctpipe.webhooks.outbox import SUPPRESSION_EVENT_TYPES

    raised = {
        e.type
        for op in ("add", "update", "remove", "expire")
        for reason in REASON_RANK
        for e in suppression_events(
            Change(
                cursor=1,
                op=op,
                address="a@example.com",
                scope="global",
                reason=reason,
                changed_at=T0,
            )
        )
    }
    assert raised == SUPPRESSION_EVENT_TYPES


def test_bulk_adds_announce_what_single_adds_announce(engine: Engine) -> None:
    """add_many's batch gives each subscription the messages apply gives, in cursor order."""
    hooks = WebhookStore(engine)
    sub = hooks.create("https://crm.example.com/hook", ["suppression.created", "complaint"])
    outbox = Outbox(engine, cache_seconds=0)
    store = SuppressionStore(engine, on_changes=outbox.change_hook)
    at = datetime.now(UTC)
    store.add_many(
        [
            ("a@example.com", "global", "complaint", "", at, None, False),
            ("b@example.com", "global", "manual", "", at, None, False),
        ]
    )
    assert _types(hooks) == [
        (sub.id, "suppression.created"),
        (sub.id, "complaint"),
        (sub.id, "suppression.created"),
    ]
    cursors = [m.payload["data"]["cursor"] for m in hooks.messages()]
    assert cursors == [1, 1, 2]


def test_no_listener_means_the_changes_are_never_read(engine: Engine) -> None:
    """With only throttle subscribers, the change hook returns without reading the changes."""
    WebhookStore(engine).create("https://crm.example.com/hook", ["throttle.changed"])
    outbox = Outbox(engine, cache_seconds=0)

    class Untouchable(Sequence[Change]):
        def __len__(self) -> int:
            raise AssertionError("read")

        def __getitem__(self, index: object) -> Change:  # type: ignore[override]
            raise AssertionError("read")

    with engine.begin() as conn:
        assert not outbox.wants_suppression_events(conn)
        outbox.change_hook(conn, Untouchable())

"""Subscriptions and the outbox as the CLI and the API see them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from acctpipe.webhooks import (
    Outbox,
    UnknownSubscriptionError,
    WebhookStore,
    summary_event,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        """The current (test) time."""
        return self.now


def test_create_generates_a_secret_and_validates(engine: Engine) -> None:
    """create() makes a whsec_ secret when none is given and refuses bad URLs, types and filters."""
    store = WebhookStore(engine)
    sub = store.create(
        "https://crm.example.com/hook",
        ["complaint", "complaint", "hard_bounce"],
        filter={"domains": ["Example.com"]},
        description="the CRM",
    )
    assert sub.secret.startswith("whsec_")
    assert sub.event_types == ("complaint", "hard_bounce")
    assert sub.filter == {"domains": ["example.com"]}
    assert sub.enabled
    assert sub.deleted_at is None
    assert store.get(sub.id) == sub
    assert store.get(sub.id + 100) is None
    with pytest.raises(ValueError, match="http:// or https://"):
        store.create("ftp://crm.example.com/", ["complaint"])
    with pytest.raises(ValueError, match="no host"):
        store.create("https:///path", ["complaint"])
    with pytest.raises(ValueError, match="unknown event type 'bounce'"):
        store.create("https://crm.example.com/", ["bounce"])
    with pytest.raises(ValueError, match="at least one event type"):
        store.create("https://crm.example.com/", [])
    with pytest.raises(ValueError, match="unknown filter key"):
        store.create("https://crm.example.com/", ["*"], filter={"nope": ["x"]})
    with pytest.raises(ValueError, match="whsec_"):
        store.create("https://crm.example.com/", ["*"], secret="hunter2")
    assert [s.id for s in store.list()] == [sub.id]


def test_secrets_never_show_in_repr(engine: Engine) -> None:
    """Printing or logging a subscription never reveals its secrets."""
    sub = WebhookStore(engine).create("https://crm.example.com/hook", ["*"])
    assert sub.secret not in repr(sub)
    assert sub.secret not in str(sub)
    assert sub.secret[6:] not in repr(sub.secrets)


def test_update_changes_only_what_is_given(engine: Engine) -> None:
    """update() changes the fields given, keeps the others, and refuses unknown ids."""
    store = WebhookStore(engine)
    sub = store.create("https://crm.example.com/hook", ["complaint"], filter={"reasons": ["x"]})
    changed = store.update(sub.id, url="http://127.0.0.1:9/h", enabled=False, filter={})
    assert (changed.url, changed.enabled, changed.filter) == ("http://127.0.0.1:9/h", False, {})
    assert changed.event_types == ("complaint",)
    assert changed.secret == sub.secret
    with pytest.raises(UnknownSubscriptionError):
        store.update(sub.id + 1, enabled=True)
    with pytest.raises(ValueError, match="unknown event type"):
        store.update(sub.id, event_types=["nope"])


def test_delete_is_soft_and_cancels_pending_messages(engine: Engine) -> None:
    """delete() keeps the row (deleted_at, disabled), cancels pending messages, is idempotent."""
    store = WebhookStore(engine)
    sub = store.create("https://crm.example.com/hook", ["delivery.summary"])
    other = store.create("https://crm.example.org/hook", ["delivery.summary"])
    Outbox(engine, cache_seconds=0).publish([summary_event({"n": 1})])
    assert store.delete(sub.id) == 1
    assert store.delete(sub.id) == 0
    gone = store.get(sub.id)
    assert gone is not None
    assert gone.deleted_at is not None
    assert not gone.enabled
    assert [s.id for s in store.list()] == [other.id]
    assert [s.id for s in store.list(include_deleted=True)] == [sub.id, other.id]
    statuses = {m.subscription_id: m.status for m in store.messages()}
    assert statuses == {sub.id: "cancelled", other.id: "pending"}
    with pytest.raises(UnknownSubscriptionError):
        store.delete(999)
    with pytest.raises(UnknownSubscriptionError):
        store.rotate_secret(sub.id)


def test_rotate_secret_keeps_the_old_one_for_the_grace_period(engine: Engine) -> None:
    """rotate_secret() puts the new secret first; the old one signs until now + grace."""
    clock = Clock()
    store = WebhookStore(engine, clock=clock)
    sub = store.create("https://crm.example.com/hook", ["*"])
    fresh = store.rotate_secret(sub.id, grace=timedelta(hours=24))
    rotated = store.get(sub.id)
    assert rotated is not None
    assert rotated.secret == fresh != sub.secret
    assert rotated.active_secrets(T0) == [fresh, sub.secret]
    assert rotated.active_secrets(T0 + timedelta(hours=25)) == [fresh]
    clock.now = T0 + timedelta(hours=1)
    newest = store.rotate_secret(sub.id, grace=timedelta(0))
    again = store.get(sub.id)
    assert again is not None
    assert again.active_secrets(clock.now) == [newest]
    with pytest.raises(ValueError, match="negative"):
        store.rotate_secret(sub.id, grace=timedelta(seconds=-1))


def test_messages_are_keyset_paginated_and_filtered(engine: Engine) -> None:
    """messages() pages by id with after_id and filters by status, subscription, type and time."""
    clock = Clock()
    store = WebhookStore(engine, clock=clock)
    outbox = Outbox(engine, cache_seconds=0, clock=clock)
    a = store.create("https://a.example/", ["delivery.summary"])
    b = store.create("https://b.example/", ["*"])
    for minute in range(3):
        clock.now = T0 + timedelta(minutes=minute)
        outbox.publish([summary_event({"n": minute}, at=clock.now)])
    everything = store.messages()
    assert len(everything) == 6
    first = store.messages(limit=4)
    rest = store.messages(after_id=first[-1].id, limit=4)
    assert [m.id for m in first + rest] == [m.id for m in everything]
    assert {m.subscription_id for m in store.messages(subscription_id=a.id)} == {a.id}
    window = store.messages(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert len(window) == 2
    assert store.messages(event_type="complaint") == []
    assert len(store.messages(status="pending")) == 6
    with pytest.raises(ValueError, match="unknown status"):
        store.messages(status="lost")  # type: ignore[arg-type]
    one = everything[0]
    assert store.message(one.msg_id) == one
    assert store.message("msg_nope") is None
    assert store.attempts(one.msg_id) == []
    assert one.payload["data"] == {"n": 0}
    assert b.id in {m.subscription_id for m in everything}


def test_stats_reports_the_backlog(engine: Engine) -> None:
    """stats() counts messages by status, those due, and the age of the oldest pending one."""
    clock = Clock()
    store = WebhookStore(engine, clock=clock)
    assert store.stats() == {
        "pending": 0,
        "delivered": 0,
        "dead": 0,
        "cancelled": 0,
        "due": 0,
        "oldest_pending_age_seconds": 0.0,
    }
    sub = store.create("https://a.example/", ["*"])
    Outbox(engine, cache_seconds=0, clock=clock).publish([summary_event({}), summary_event({})])
    clock.now = T0 + timedelta(seconds=90)
    stats = store.stats()
    assert (stats["pending"], stats["due"], stats["oldest_pending_age_seconds"]) == (2, 2, 90.0)
    store.delete(sub.id)
    assert store.stats()["cancelled"] == 2


def test_replay_requires_a_selection(engine: Engine) -> None:
    """replay() without ids, time range or subscription is refused (never 'replay all')."""
    with pytest.raises(ValueError, match="say which messages"):
        WebhookStore(engine).replay()

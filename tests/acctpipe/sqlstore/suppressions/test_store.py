"""The suppression store on SQLite and PostgreSQL: apply, check, pages, the change log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import Connection

from acctpipe.sqlstore.schema import suppression_changes
from acctpipe.sqlstore.suppressions import Change, SuppressionStore
from tests.acctpipe.sqlstore._decisions import T0, decision


@pytest.fixture
def store(engine: Engine) -> SuppressionStore:
    """A store whose clock stands at T0 + 1 h."""
    return SuppressionStore(engine, clock=lambda: T0 + timedelta(hours=1))


def test_apply_is_idempotent(store: SuppressionStore) -> None:
    """Applying the same decisions twice logs them once; the second run changes nothing."""
    batch = [decision("a@example.com"), decision("b@example.com", "complaint", notify=True)]
    first = store.apply(batch)
    assert [(c.op, c.address, c.cursor) for c in first] == [
        ("add", "a@example.com", 1),
        ("add", "b@example.com", 2),
    ]
    assert first[1].notify
    assert store.apply(batch) == []
    assert store.last_cursor() == 2
    assert store.count() == 2


def test_apply_normalises_addresses_and_scopes(store: SuppressionStore) -> None:
    """Decisions are keyed on the normalised address and scope."""
    store.apply([decision("<John@Example.COM>", scope="domain:News.Example.")])
    (row,) = store.get("john@example.com")
    assert (row.address, row.scope) == ("john@example.com", "domain:news.example")
    assert store.apply([decision("JOHN@example.com", scope="domain:news.example")]) == []


def test_invalid_decisions_raise_or_are_skipped(store: SuppressionStore) -> None:
    """An invalid address fails the batch before any write, unless skip_invalid drops it."""
    batch = [decision("ok@example.com"), decision("not an address")]
    with pytest.raises(ValueError, match="invalid address"):
        store.apply(batch)
    assert store.count() == 0
    assert [c.address for c in store.apply(batch, skip_invalid=True)] == ["ok@example.com"]


def test_update_versus_add(store: SuppressionStore) -> None:
    """A longer expiry or a weightier reason updates the row; the log says 'update'."""
    store.apply([decision(reason="soft-bounce-repeated", days=30)])
    (change,) = store.apply([decision(reason="hard-bounce", events=("f9:1",))])
    assert change.op == "update"
    assert change.expires_at is None
    (row,) = store.get("john@example.com")
    assert row.reason == "hard-bounce"
    assert row.event_ids == ("f9:1", "f1:100")
    assert row.created_at == T0


def test_several_decisions_for_one_pair_in_one_batch(store: SuppressionStore) -> None:
    """Decisions in one batch apply in order: add, remove, add logs three changes."""
    changes = store.apply(
        [decision(), decision(reason="manual", remove=True), decision(reason="complaint")]
    )
    assert [c.op for c in changes] == ["add", "remove", "add"]
    (row,) = store.get("john@example.com")
    assert row.reason == "complaint"


def test_remove_writes_a_tombstone(store: SuppressionStore) -> None:
    """remove() deletes the row and logs a 'remove' tombstone; removing again is a no-op."""
    store.add("john@example.com", reason="complaint")
    tombstone = store.remove("John@example.com")
    assert tombstone is not None
    assert (tombstone.op, tombstone.reason, tombstone.is_tombstone) == ("remove", "complaint", True)
    assert store.get("john@example.com") == []
    assert store.remove("john@example.com") is None
    assert [c.op for c in store.changes_since(0)] == ["add", "remove"]


def test_expire_deletes_due_rows_and_writes_tombstones(store: SuppressionStore) -> None:
    """expire(now) removes rows whose expiry has passed, one 'expire' tombstone each."""
    store.apply(
        [
            decision("a@example.com", "soft-bounce-repeated", days=1),
            decision("b@example.com", "soft-bounce-repeated", days=10),
            decision("c@example.com", "hard-bounce"),
        ]
    )
    assert store.check("a@example.com", now=T0 + timedelta(days=2)) is None  # before the sweep
    expired = store.expire(T0 + timedelta(days=2), batch=1)
    assert [(c.op, c.address) for c in expired] == [("expire", "a@example.com")]
    assert expired[0].expires_at == T0 + timedelta(days=1)
    assert store.count() == 2
    assert store.expire(T0 + timedelta(days=2)) == []


def test_check_sees_global_and_the_sender_domain_scope(store: SuppressionStore) -> None:
    """check() finds a global suppression, or one for the sender's domain or a given list."""
    store.add("a@example.com", scope="domain:news.example")
    store.add("b@example.com", scope="list:weekly")
    store.add("c@example.com")
    assert store.check("a@example.com") is None
    found = store.check("A@example.com", sender_domain="NEWS.example")
    assert found is not None
    assert found.scope == "domain:news.example"
    assert store.check("b@example.com") is None
    assert store.check("b@example.com", lists=["weekly"]) is not None
    assert store.check("c@example.com", sender_domain="other.example") is not None
    store.add("c@example.com", scope="domain:news.example")
    both = store.check("c@example.com", sender_domain="news.example")
    assert both is not None
    assert both.scope == "global"


def test_keyset_pages_cover_everything_once(store: SuppressionStore) -> None:
    """Pages of 3 ordered by (address, scope) list every row once; filters apply."""
    store.apply([decision(f"u{i:02d}@example.com") for i in range(10)])
    store.apply([decision("u03@example.com", "unsubscribe", scope="list:a")])
    seen: list[tuple[str, str]] = []
    after = None
    while page := store.page(after=after, limit=3):
        seen.extend((s.address, s.scope) for s in page)
        after = seen[-1]
    assert len(seen) == 11 == len(set(seen))
    assert seen == sorted(seen)
    assert [s.address for s in store.page(scope="list:a")] == ["u03@example.com"]
    assert len(store.page(reason="hard-bounce", limit=100)) == 10
    streamed = [(s.address, s.scope) for s in store.iter_all(batch=4)]
    assert streamed == seen
    assert store.count(reason="unsubscribe") == 1


def test_changes_since_pages_in_cursor_order(store: SuppressionStore) -> None:
    """changes_since(c, limit) returns the next changes after c, in cursor order."""
    store.apply([decision(f"u{i}@example.com") for i in range(5)])
    first = store.changes_since(0, limit=2)
    rest = store.changes_since(first[-1].cursor)
    cursors = [c.cursor for c in first + rest]
    assert cursors == sorted(cursors)
    assert len(cursors) == 5
    assert store.changes_since(store.last_cursor()) == []


def test_timestamps_are_aware_utc(store: SuppressionStore) -> None:
    """Rows and changes come back with timezone-aware UTC timestamps."""
    store.apply([decision(days=3)])
    (row,) = store.get("john@example.com")
    (change,) = store.changes_since(0)
    for value in (row.created_at, row.updated_at, row.expires_at, change.changed_at):
        assert value is not None
        assert value.tzinfo == UTC
    assert change.changed_at == T0 + timedelta(hours=1)


class _HookError(RuntimeError):
    pass


def test_change_hook_runs_in_the_same_transaction(engine: Engine) -> None:
    """on_changes sees the new changes inside the write; if it fails, nothing is kept."""
    seen: list[int] = []

    def hook(conn: Connection, changes: Sequence[Change]) -> None:
        visible = conn.execute(select(func.count()).select_from(suppression_changes)).scalar()
        seen.append(int(visible or 0))
        if any(c.address.startswith("fail") for c in changes):
            raise _HookError

    store = SuppressionStore(engine, on_changes=hook)
    store.add("ok@example.com")
    assert seen == [1]
    with pytest.raises(_HookError):
        store.add("fail@example.com")
    assert store.get("fail@example.com") == []
    assert store.last_cursor() == 1


def test_add_defaults_to_now(engine: Engine) -> None:
    """add() without a clock dates the row now."""
    before = datetime.now(UTC)
    SuppressionStore(engine).add("now@example.com")
    (row,) = SuppressionStore(engine).get("now@example.com")
    assert row.created_at >= before - timedelta(seconds=1)


def test_a_lookup_is_one_statement_without_a_transaction_around_it(
    store: SuppressionStore, engine: Engine
) -> None:
    """get() runs its SELECT alone (no BEGIN/ROLLBACK on SQLite); writes still lock first."""
    seen: list[str] = []

    def record(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        store.add("a@example.com")
        written = list(seen)
        seen.clear()
        (row,) = store.get("A@example.com")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert row.address == "a@example.com"
    assert seen == ["SELECT"]
    if engine.dialect.name == "sqlite":
        assert written[0] == "BEGIN"  # BEGIN IMMEDIATE: the write lock before any read

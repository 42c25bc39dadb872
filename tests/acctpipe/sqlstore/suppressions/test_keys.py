"""Loading and following the list by stored key gives the MTA's set what the careful path
(every row read as a Suppression, normalised and hashed) gives, on SQLite and PostgreSQL:
expired rows left out, expiry times exact, rows stored without a key keyed on the way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from acctpipe.feedback.follower import entries
from acctpipe.sqlstore.schema import suppression_changes, suppressions
from acctpipe.sqlstore.suppressions import SuppressionStore, keys
from acctpipe.sqlstore.suppressions.keys import key_changes_since, load_keys
from mta.suppression import SuppressionEntry, SuppressionSet

NOW = datetime(2026, 12, 7, 12, 0, 0, 250_000, tzinfo=UTC)
SENDERS = ("x@news.test", "x@other.test", "")


def _careful(store: SuppressionStore) -> SuppressionSet:
    """The set as the follower used to build it: every row normalised and hashed."""
    s = SuppressionSet(store.key)
    s.apply(
        SuppressionEntry(
            r.address, r.scope, r.reason, r.expires_at.timestamp() if r.expires_at else None
        )
        for r in store.iter_all()
        if r.is_active(NOW)
    )
    return s


def _fill(engine: Engine, store: SuppressionStore) -> list[str]:
    soon = NOW + timedelta(microseconds=1)
    store.add("gone@example.com", reason="hard-bounce")
    store.add("News@Example.com", scope="domain:NEWS.test", reason="complaint")
    store.add("soft@example.com", reason="soft-bounce-repeated", expires_at=soon)
    store.add("past@example.com", reason="soft-bounce-repeated", expires_at=NOW)
    store.add("list@example.com", scope="list:spring", reason="unsubscribe")
    for n in range(300):
        store.add(f"bulk{n}@example.com", reason="manual")
    store.remove("bulk7@example.com")
    row = {
        "address": "raw@example.com",  # written by something other than the store
        "scope": "global",
        "reason": "complaint",
        "detail": "",
        "event_ids": [],
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": None,
    }
    change = {
        "op": "add",
        "address": "rawchange@example.com",
        "scope": "domain:news.test",
        "reason": "manual",
        "detail": "",
        "event_ids": [],
        "changed_at": NOW,
        "expires_at": None,
    }
    with engine.begin() as conn:
        conn.execute(insert(suppressions), [row])
        conn.execute(insert(suppression_changes), [change])
        keyless = select(suppressions.c.lookup_key).where(
            suppressions.c.address == "raw@example.com"
        )
        assert conn.execute(keyless).scalar_one() is None
    return ["gone@example.com", "news@example.com", "soft@example.com", "past@example.com",
            "list@example.com", "bulk1@example.com", "bulk7@example.com", "raw@example.com",
            "rawchange@example.com", "nobody@example.com"]  # fmt: skip


def _answers(s: SuppressionSet, probes: list[str]) -> list[str | None]:
    return [
        s.reason(a, sender=sender, job_id="spring", now=NOW.timestamp())
        for a in probes
        for sender in SENDERS
    ]


@pytest.mark.parametrize("pages", [1, 8192])
def test_the_key_loader_equals_the_careful_one(
    engine: Engine, pages: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one slice of the table or in many (PostgreSQL reads it a range of pages at a time)."""
    monkeypatch.setattr(keys, "_PAGES", pages)
    store = SuppressionStore(engine)
    probes = _fill(engine, store)
    stored = load_keys(engine, store.key, NOW)
    fast = SuppressionSet(store.key)
    fast.load_arrays(stored.keys, stored.codes, stored.expiring, stored.expires_at)
    careful = _careful(store)
    assert len(fast) == len(careful) == 304  # past@ expired, bulk7@ removed
    assert _answers(fast, probes) == _answers(careful, probes)
    assert fast.reason("soft@example.com", now=NOW.timestamp()) == "soft-bounce-repeated"
    assert fast.reason("soft@example.com", now=NOW.timestamp() + 1e-6) is None
    assert fast.reason("raw@example.com", now=NOW.timestamp()) == "complaint"


def test_following_by_key_equals_following_by_change(engine: Engine) -> None:
    """Replaying the whole log by key (in small reads) gives the set that replaying the
    same changes the careful way gives, the key-less change included."""
    store = SuppressionStore(engine)
    probes = _fill(engine, store)
    by_key, careful = SuppressionSet(store.key), SuppressionSet(store.key)
    careful.apply(entries(store.changes_since(0, 100_000)))
    cursor, reads = 0, 0
    while True:
        changes, last = key_changes_since(engine, cursor, 37, store.key)
        if last == cursor:
            break
        by_key.apply_keys(changes)
        cursor, reads = last, reads + 1
    assert reads > 5
    assert cursor == store.last_cursor()
    assert len(by_key) == len(careful)
    assert _answers(by_key, probes) == _answers(careful, probes)
    assert by_key.reason("rawchange@example.com", sender="a@news.test") == "manual"


def test_an_empty_store_loads_an_empty_set(engine: Engine) -> None:
    stored = load_keys(engine, SuppressionStore(engine).key, NOW)
    assert len(stored.keys) == len(stored.expiring) == 0
    assert key_changes_since(engine, 0, 10, str.lower) == ([], 0)

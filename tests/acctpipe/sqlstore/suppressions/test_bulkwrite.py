"""The set-based add path writes what the careful path writes: rows, change log, counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from acctpipe.policy.normalise import normalise_address, normalise_scope
from acctpipe.policy.types import SuppressionDecision, SuppressionReason
from acctpipe.sqlstore.schema import suppression_changes, suppression_counts, suppressions
from acctpipe.sqlstore.suppressions import Change, SuppressionStore
from acctpipe.sqlstore.suppressions._fastaddr import everyday
from acctpipe.sqlstore.suppressions.bulkwrite import AddRow, _Keys
from acctpipe.sqlstore.suppressions.store import lookup_key
from tests.acctpipe.sqlstore._decisions import T0, decision

REASONS: tuple[SuppressionReason, ...] = (
    "soft-bounce-repeated",
    "manual",
    "unsubscribe",
    "hard-bounce",
    "complaint",
)
CLOCK = T0 + timedelta(hours=1)


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("suppression_changes", "suppressions", "suppression_counts"):
            conn.execute(text(f"DELETE FROM {table}"))


def _snapshot(engine: Engine) -> tuple[list[Any], list[Any], dict[Any, int]]:
    """The table (every column), the log (no cursor or changed_at, in cursor order), counts."""
    c = suppression_changes.c
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(suppressions).order_by("address", "scope"))]
        fields = ["op", "address", "scope", "reason", "detail", "expires_at", "event_ids"]
        fields += ["notify", "lookup_key"]
        log = [
            tuple(getattr(r, f) for f in fields)
            for r in conn.execute(select(suppression_changes).order_by(c.cursor))
        ]
        counts = {(r.reason, r.scope_kind): r.n for r in conn.execute(select(suppression_counts))}
    return rows, log, {k: n for k, n in counts.items() if n}


def _row(store: SuppressionStore, d: SuppressionDecision) -> AddRow:
    address, scope = store.normalise(d.address), normalise_scope(d.scope)
    return (address, scope, d.reason, d.detail, d.decided_at, d.expires_at, d.notify)


def _both(
    engine: Engine, before: Sequence[SuppressionDecision], batch: Sequence[SuppressionDecision]
) -> None:
    """Apply ``before`` (careful), then ``batch`` careful and fast: the same end state."""
    store = SuppressionStore(engine, clock=lambda: CLOCK)
    results = []
    for fast in (False, True):
        _wipe(engine)
        if before:
            store.apply(before)
        if fast:
            added, updated = store.add_many([_row(store, d) for d in batch])
        else:
            changes = store.apply(batch)
            added = sum(c.op == "add" for c in changes)
            updated = sum(c.op == "update" for c in changes)
        results.append(((added, updated), _snapshot(engine)))
    assert results[0] == results[1]


def _add(address: str, reason: SuppressionReason = "manual", **kw: Any) -> SuppressionDecision:
    return decision(address, reason, events=(), **kw)


def test_adds_updates_and_nothing_match_the_careful_path(engine: Engine) -> None:
    """New rows, longer or weightier ones and weaker ones: the same rows, log and counts."""
    before = [
        _add("weak@example.com", "soft-bounce-repeated", days=10, detail="old"),
        _add("strong@example.com", "complaint"),
        _add("same@example.com", "manual", days=5, scope="list:news"),
        decision("evented@example.com", "manual", days=1, events=("f1:1", "f1:2")),
    ]
    batch = [
        _add("new@example.com", detail="imported"),
        _add("weak@example.com", "manual", days=20, at=T0 - timedelta(days=1)),
        _add("strong@example.com", "hard-bounce"),
        _add("same@example.com", "unsubscribe", days=5, scope="list:news", detail="x"),
        _add("evented@example.com", "manual", detail="for good", at=T0 + timedelta(days=2)),
        _add("new@example.com", "complaint", detail="again"),
        _add("new@example.com", "manual"),
        _add("new@example.com", "complaint", detail="", scope="domain:Shop.Example"),
    ]
    _both(engine, before, batch)


def test_a_reimport_changes_nothing(engine: Engine) -> None:
    """The same rows twice: the second batch adds and logs nothing."""
    store = SuppressionStore(engine, clock=lambda: CLOCK)
    rows = [_row(store, _add(f"user{i}@example.com")) for i in range(50)]
    assert store.add_many(rows) == (50, 0)
    assert store.add_many(rows) == (0, 0)
    assert store.last_cursor() == 50
    assert store.counts() == {("manual", "global"): 50}


def test_the_change_hook_sees_the_logged_changes(engine: Engine) -> None:
    """A hook is given the batch's changes with their cursors, as the careful path gives."""
    seen: list[Change] = []
    store = SuppressionStore(engine, clock=lambda: CLOCK, on_changes=lambda _c, ch: seen.extend(ch))
    store.apply([_add("a@example.com")])
    store.add_many(
        [_row(store, _add("b@example.com")), _row(store, _add("a@example.com", "complaint"))]
    )
    assert [(c.cursor, c.op, c.address, c.reason) for c in seen] == [
        (1, "add", "a@example.com", "manual"),
        (2, "add", "b@example.com", "manual"),
        (3, "update", "a@example.com", "complaint"),
    ]
    assert seen[1].changed_at == CLOCK


_LOCAL = st.sampled_from(
    ["john", "John", "JOHN", "j.doe", "j+tag", "J+Tag", '"john doe"', '"john"', "jöhn", "x_y-z"]
)
_DOMAIN = st.sampled_from(["example.com", "Example.COM", "bücher.example", "xn--bcher-kva.example"])
_DECISION = st.builds(
    lambda local, domain, reason, days, scope, detail, hours, notify: _add(
        f"{local}@{domain}",
        reason,
        days=days,
        scope=scope,
        detail=detail,
        at=T0 + timedelta(hours=hours),
        notify=notify,
    ),
    _LOCAL,
    _DOMAIN,
    st.sampled_from(REASONS),
    st.sampled_from([None, 1.0, 2.0, 30.0]),
    st.sampled_from(["global", "domain:shop.example", "list:news"]),
    st.sampled_from(["", "a", "b"]),
    st.integers(-2, 2),
    st.booleans(),
)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.lists(_DECISION, max_size=8), batch=st.lists(_DECISION, min_size=1, max_size=25))
def test_any_batch_matches_the_careful_path(
    engine: Engine, before: list[SuppressionDecision], batch: list[SuppressionDecision]
) -> None:
    """Any mix of address forms, duplicates, reasons, expiries and prior rows: the same result."""
    before = [replace(d, event_ids=("f1:9",)) if i % 3 == 0 else d for i, d in enumerate(before)]
    _both(engine, before, batch)


_ASCII = st.text(alphabet=st.sampled_from("aZ09.-_+!#$%&'*/=?^`{|}~\"\\ @[]<>:xnXN-é"), max_size=30)


@given(
    st.one_of(
        _ASCII,
        st.builds(lambda a, b: f"{a}@{b}", _ASCII, _ASCII),
        st.builds(lambda local, domain: f" {local}@{domain} ", _LOCAL, _DOMAIN),
        st.builds(lambda n: "a" * n + "@example.com", st.integers(60, 70)),
        st.builds(lambda n: "a@" + "b" * n + ".example", st.integers(60, 66)),
    )
)
def test_the_everyday_shortcut_gives_what_the_full_path_gives(address: str) -> None:
    """everyday() answers as store.normalise does, error for error."""
    full = partial(normalise_address, casefold_local=True)  # what store.normalise runs
    quick = everyday(full)
    try:
        expected: str | None = full(address)
    except ValueError:
        expected = None
    try:
        got: str | None = quick(address)
    except ValueError:
        got = None
    assert got == expected


@given(st.sampled_from(["global", "domain:shop.example", "list:news", "list:ü"]), _ASCII)
def test_the_batch_key_is_lookup_key(scope: str, address: str) -> None:
    """The staging's inline key equals store.lookup_key for every scope and address."""
    assert _Keys()(scope, address) == lookup_key(scope, address)

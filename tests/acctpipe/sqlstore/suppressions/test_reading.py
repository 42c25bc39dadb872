"""The bulk readers equal the careful ones: the export byte for byte, the change feed change
for change (SQLite and PostgreSQL).

The fast export formats timestamps in SQL and joins clean rows with commas; the
reference is ``csv_line(export_row(s))`` for every ``s`` of ``iter_all``, which reads
through the ORM's column types. Rows are written straight into the table, so the
cells can be anything a row may hold (formula characters, quotes, line breaks),
not only what the address check lets in.
"""

from __future__ import annotations

import io
import string
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, text

from acctpipe._csvsafe import csv_line
from acctpipe.sqlstore.schema import suppression_changes, suppressions
from acctpipe.sqlstore.suppressions import SuppressionStore, export_csv, export_row
from acctpipe.sqlstore.suppressions.csvio import EXPORT_COLUMNS
from acctpipe.sqlstore.suppressions.reading import event_ids

_ODD = "=+-@\t\r\n\"',; 'é\x01"
cells = st.text(alphabet=st.sampled_from(_ODD + string.ascii_letters[:6] + "0."), max_size=8)
_FIRST = datetime(1, 1, 1)  # noqa: DTZ001 - hypothesis bounds are naive
_LAST = datetime(9999, 12, 31)  # noqa: DTZ001 - hypothesis bounds are naive
stamps = st.datetimes(min_value=_FIRST, max_value=_LAST, timezones=st.just(UTC)) | st.datetimes(
    timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
rows = st.fixed_dictionaries(
    {
        "address": cells,
        "scope": st.sampled_from(["global", "list:news", "domain:example.com"]) | cells,
        "reason": st.sampled_from(["manual", "complaint", "hard-bounce"]),
        "detail": cells,
        "event_ids": st.lists(cells, max_size=3),
        "created_at": stamps,
        "updated_at": stamps,
        "expires_at": st.none() | stamps,
    }
)


def _reference(store: SuppressionStore, **filters: str | None) -> str:
    lines = [csv_line(EXPORT_COLUMNS)]
    lines += [csv_line(export_row(s)) for s in store.iter_all(7, **filters)]  # type: ignore[arg-type]
    return "".join(lines)


def _fast(store: SuppressionStore, batch: int, **filters: str | None) -> tuple[str, int]:
    out = io.StringIO()
    count = export_csv(store, out, batch=batch, **filters)  # type: ignore[arg-type]
    return out.getvalue(), count


def _fill(engine: Engine, found: list[dict[str, object]]) -> int:
    unique = list({(r["address"], r["scope"]): r for r in found}.values())
    with engine.begin() as conn:
        conn.execute(delete(suppressions))
        if unique:
            conn.execute(insert(suppressions), unique)
    return len(unique)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(found=st.lists(rows, max_size=12), batch=st.integers(1, 5))
def test_the_export_is_byte_for_byte_the_careful_one(
    engine: Engine, found: list[dict[str, object]], batch: int
) -> None:
    """Whatever the cells hold (formula characters, quotes, CR/LF, commas) and whatever the
    timestamps (microseconds or none, year 1 to 9999), the fast export writes exactly what
    csv_line of export_row writes for every row, across page boundaries."""
    stored = _fill(engine, found)
    store = SuppressionStore(engine)
    text_out, count = _fast(store, batch)
    assert text_out == _reference(store)
    assert count == stored


def test_the_export_filters_by_scope_and_reason(engine: Engine) -> None:
    """A scope (normalised first) or a reason limits the fast export as it limits iter_all."""
    store = SuppressionStore(engine)
    for i in range(6):
        store.add(f"u{i}@example.com", scope="list:news" if i % 2 else "global")
        store.add(f"u{i}@example.com", reason="complaint" if i % 3 else "manual")
    assert _fast(store, 2, scope=" LIST:news")[0] == _reference(store, scope="list:news")
    assert _fast(store, 2, reason="complaint")[0] == _reference(store, reason="complaint")
    with pytest.raises(ValueError, match="scope"):
        _fast(store, 2, scope="nowhere")


@pytest.mark.parametrize("stored", ["2026-01-02 03:04:05", "2026-01-02 03:04:05.5"])
def test_a_timestamp_stored_in_an_odd_form_is_read_carefully(engine: Engine, stored: str) -> None:
    """A SQLite timestamp not in SQLAlchemy's form (written by another tool) is exported and
    fed as the ORM reads it, not mangled by the SQL formatting."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores timestamptz, not text")
    store = SuppressionStore(engine)
    store.add("a@example.com")
    store.add("b@example.com")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE suppressions SET created_at = :s WHERE address = 'a@example.com'"),
            {"s": stored},
        )
        conn.execute(
            text("UPDATE suppression_changes SET changed_at = :s WHERE address = 'a@example.com'"),
            {"s": stored},
        )
    assert _fast(store, 10)[0] == _reference(store)
    assert store.changes_since(0) == store._changes_orm(0, 1000)


changes = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["add", "update", "remove", "expire"]),
        "address": cells,
        "scope": cells,
        "reason": st.sampled_from(["manual", "complaint", "unsubscribe"]),
        "detail": cells,
        "event_ids": st.lists(cells | st.sampled_from(['", "', "\\", '"']), max_size=3),
        "notify": st.booleans(),
        "changed_at": stamps,
        "expires_at": st.none() | stamps,
    }
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logged=st.lists(changes, max_size=10), limit=st.integers(1, 4))
def test_the_change_feed_equals_the_orm_read(
    engine: Engine, logged: list[dict[str, object]], limit: int
) -> None:
    """changes_since, built from plain rows, gives the same Change objects as the ORM read,
    page by page (odd text, event ids with quotes and backslashes, tombstones)."""
    with engine.begin() as conn:
        conn.execute(delete(suppression_changes))
        if logged:
            conn.execute(insert(suppression_changes), logged)
    store = SuppressionStore(engine)
    cursor = 0
    while page := store.changes_since(cursor, limit):
        assert page == store._changes_orm(cursor, limit)
        cursor = page[-1].cursor
    assert store._changes_orm(cursor, limit) == []


@given(ids=st.lists(st.text(max_size=6) | st.sampled_from(['", "', "\\", '"', "["]), max_size=4))
def test_event_ids_split_like_the_json_decoder(ids: list[str]) -> None:
    """The decoder-free split of a stored id list agrees with json.loads on any list."""
    import json

    assert event_ids(json.dumps(ids)) == ids
    assert event_ids(json.dumps([*ids, 1])) == [*ids, 1]

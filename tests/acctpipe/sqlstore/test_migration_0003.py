"""Migration 0003 fills in the lookup keys and the counts of the rows a database already has."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text

from acctpipe.sqlstore import make_engine, migrate
from acctpipe.sqlstore.suppressions import SuppressionStore
from acctpipe.sqlstore.suppressions.store import lookup_key, scope_kind

ROWS = [
    ("a@example.com", "global", "manual"),
    ("a@example.com", "list:news", "unsubscribe"),
    ("b@bücher.example", "domain:shop.example", "complaint"),
    ('"john doe"@example.com', "global", "hard-bounce"),
    ("c@example.com", "global", "hard-bounce"),
    ("d@example.com", "list:other", "unsubscribe"),
]
AT = "2026-11-01 12:00:00.000000"


def test_upgrade_from_0002_backfills_keys_and_counts(empty_db_url: str) -> None:
    """Rows written at 0002 get lookup_key() on both tables and counts equal to a GROUP BY."""
    migrate(empty_db_url, "0002")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            for address, scope, reason in ROWS:
                values = {"a": address, "s": scope, "r": reason, "t": AT}
                conn.execute(
                    text(
                        "INSERT INTO suppressions (address, scope, reason, detail, event_ids, "
                        "created_at, updated_at) VALUES (:a, :s, :r, '', '[]', :t, :t)"
                    ),
                    values,
                )
                conn.execute(
                    text(
                        "INSERT INTO suppression_changes (op, address, scope, reason, detail, "
                        "event_ids, notify, changed_at) VALUES ('add', :a, :s, :r, '', '[]', "
                        "false, :t)"
                    ),
                    values,
                )
        migrate(empty_db_url)
        with engine.connect() as conn:
            for table in ("suppressions", "suppression_changes"):
                found = conn.execute(text(f"SELECT address, scope, lookup_key FROM {table}"))
                got = {(a, s): k for a, s, k in found}
                assert got == {(a, s): lookup_key(s, a) for a, s, _ in ROWS}
        expected = Counter((r, scope_kind(s)) for _, s, r in ROWS)
        assert SuppressionStore(engine).counts() == dict(expected)
    finally:
        engine.dispose()

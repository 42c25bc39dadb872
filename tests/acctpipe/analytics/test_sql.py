"""The read-only SQL endpoint: one SELECT over the events database, bounded; nothing else."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acctpipe.analytics import (
    EventsUnavailableError,
    ReadOnlyFile,
    SharedStore,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
    run_readonly,
)
from acctpipe.eventstore import Store
from mta.errors import InputDataError, StoreError
from tests.acctpipe.analytics._data import SYNTHETIC, build, digest, raw_events

# (statement, a fragment of the reason given)
WRITES = [
    ("INSERT INTO events (type) VALUES ('d')", "not INSERT"),
    ("INSERT INTO events SELECT * FROM events RETURNING *", "not INSERT"),
    ("UPDATE events SET rcpt = 'x'", "not UPDATE"),
    ("DELETE FROM events", "not DELETE"),
    ("TRUNCATE events", "not DELETE"),
    ("MERGE INTO events USING events e ON false WHEN MATCHED THEN DELETE", "not MERGE"),
    ("CREATE TABLE t AS SELECT 1", "not CREATE"),
    ("CREATE TEMP TABLE t (a INTEGER)", "not CREATE"),
    ("CREATE VIEW v AS SELECT 1", "not CREATE"),
    ("CREATE MACRO m(x) AS x", "not CREATE"),
    ("CREATE SEQUENCE s", "not CREATE"),
    ("CREATE SECRET (TYPE s3)", "not CREATE"),
    ("DROP TABLE events", "not DROP"),
    ("DROP VIEW daily_domain_stats", "not DROP"),
    ("ALTER TABLE events ADD COLUMN x INTEGER", "not ALTER"),
    ("COMMENT ON TABLE events IS 'x'", "not ALTER"),
    ("ATTACH ':memory:' AS m", "not ATTACH"),
    ("DETACH m", "not DETACH"),
    ("COPY events TO 'out.csv'", "not COPY"),
    ("COPY (SELECT * FROM events) TO 'out.parquet' (FORMAT parquet)", "not COPY"),
    ("COPY events FROM 'x.csv'", "not COPY"),
    ("EXPORT DATABASE 'exported'", "not EXPORT"),
    ("IMPORT DATABASE 'exported'", "not PRAGMA"),
    ("INSTALL httpfs", "not LOAD"),
    ("LOAD httpfs", "not LOAD"),
    ("SET threads = 1", "not SET"),
    ("RESET threads", "not SET"),
    ("SET VARIABLE x = 1", "not SET"),
    ("USE memory", "not SET"),
    ("PRAGMA enable_profiling", "not PRAGMA"),
    ("CALL checkpoint()", "not CALL"),
    ("CHECKPOINT", "not CALL"),
    ("FORCE CHECKPOINT", "not CALL"),
    ("BEGIN TRANSACTION", "not TRANSACTION"),
    ("COMMIT", "not TRANSACTION"),
    ("VACUUM", "not VACUUM"),
    ("ANALYZE", "not VACUUM"),
    ("PREPARE p AS SELECT 1", "not PREPARE"),
    ("EXPLAIN SELECT * FROM events", "not EXPLAIN"),
    ("EXPLAIN ANALYZE SELECT * FROM events", "not EXPLAIN"),
    ("PIVOT events ON type", "not MULTI"),
    ("UPDATE EXTENSIONS", "unsupported statement"),
    ("SELECT 1; DROP TABLE events", "exactly one statement"),
    ("SELECT 1; SELECT 2", "exactly one statement"),
    ("SELECT 1; -- and then\nDROP TABLE events", "exactly one statement"),
    ("/* SELECT 1 */ DROP TABLE events", "not DROP"),
    ("-- SELECT 1\nDELETE FROM events", "not DELETE"),
    ("WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x", "data-modifying CTE"),
    ("WITH x AS (INSERT INTO events (type) VALUES ('d') RETURNING *) SELECT 1", "data-modifying"),
    ("", "empty"),
    ("-- nothing but a comment", "empty"),
]

# Reads of anything but the events database: files, other catalogs, sequences, settings.
READS = [
    ("SELECT * FROM 'x.csv'", "reading files"),
    ("FROM 'x.csv'", "reading files"),
    ("SELECT * FROM '/etc/passwd'", "reading files"),
    ('SELECT * FROM "x.csv"', "reading files"),
    ('SELECT * FROM main."x.csv"', "reading files"),
    ("SELECT * FROM 'x*.csv'", "reading files"),
    ("SELECT * FROM read_csv('x.csv')", "read_csv() is not allowed"),
    ("SELECT * FROM read_csv_auto('x.csv')", "read_csv_auto() is not allowed"),
    ("SELECT * FROM \"read_csv\"('x.csv')", "read_csv() is not allowed"),
    ("SELECT * FROM READ_CSV('x.csv')", "read_csv() is not allowed"),
    ("SELECT * FROM read_parquet('x.parquet')", "read_parquet() is not allowed"),
    ("SELECT * FROM read_json('x.json')", "read_json() is not allowed"),
    ("SELECT * FROM read_text('x.csv')", "read_text() is not allowed"),
    ("SELECT * FROM read_blob('x.csv')", "read_blob() is not allowed"),
    ("SELECT * FROM glob('*')", "glob() is not allowed"),
    ("SELECT * FROM sniff_csv('x.csv')", "sniff_csv() is not allowed"),
    ("SELECT * FROM parquet_metadata('x.parquet')", "parquet_metadata() is not allowed"),
    ("SELECT * FROM query('SELECT 1')", "query() is not allowed"),
    ("SELECT * FROM query_table('events')", "query_table() is not allowed"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings() is not allowed"),
    ("SELECT * FROM duckdb_secrets()", "duckdb_secrets() is not allowed"),
    ("SELECT * FROM pragma_table_info('events')", "pragma_table_info() is not allowed"),
    ("SELECT * FROM checkpoint()", "checkpoint() is not allowed"),
    ("SELECT * FROM main.range(3)", "range() is not allowed"),
    ("SELECT count(*) FROM (SELECT * FROM read_csv('x.csv'))", "read_csv()"),
    ("WITH c AS (SELECT * FROM read_csv('x.csv')) SELECT * FROM c", "read_csv()"),
    ("SELECT * FROM events WHERE rcpt IN (SELECT * FROM read_text('x.csv'))", "read_text()"),
    ("SELECT * FROM events WHERE rcpt IN (FROM 'x.csv')", "reading files"),
    ("SELECT * FROM events, LATERAL (SELECT * FROM read_csv('x.csv')) l", "read_csv()"),
    ("SELECT (SELECT count(*) FROM 'x.csv')", "reading files"),
    ("SELECT * FROM events UNION ALL SELECT * FROM 'x.csv'", "reading files"),
    ("SELECT * FROM events e JOIN 'x.csv' x ON true", "reading files"),
    ("SELECT * FROM unnest((SELECT list(a) FROM 'x.csv'))", "reading files"),
    ("DESCRIBE 'x.csv'", "reading files"),
    ('SHOW "x.csv"', "reading files"),
    ("SUMMARIZE SELECT * FROM 'x.csv'", "reading files"),
    ("SELECT nextval('file_ids')", "nextval() is not allowed"),
    ("SELECT currval('file_ids')", "currval() is not allowed"),
    ("SELECT \"nextval\"('file_ids')", "nextval() is not allowed"),
    ("SELECT setseed(0.5)", "setseed() is not allowed"),
    ("SELECT current_setting('threads')", "current_setting() is not allowed"),
    ("SELECT getenv('HOME')", "getenv() is not allowed"),
    ("SELECT write_log('x')", "write_log() is not allowed"),
    ("SELECT 'x.csv'.read_text()", "read_text() is not allowed"),
    ("SELECT main.nextval('file_ids')", "nextval() is not allowed"),
    ("SELECT st_point(1, 2)", "unknown function st_point()"),
    ("SELECT 'POINT (1 2)'::my_type", "unknown type my_type"),
    ("SELECT * FROM information_schema.tables", "schema main"),
    ("SELECT * FROM system.main.duckdb_settings", "events database"),
    ("SELECT * FROM temp.main.t", "events database"),
    ("SELECT * FROM nosuchtable", "unknown table 'nosuchtable'"),
    ('WITH "x.csv" AS (SELECT * FROM "x.csv") SELECT * FROM "x.csv"', "plain identifier"),
    ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "unknown table 'b'"),
    ("SELECT * FROM (WITH \"x.csv\" AS (SELECT 1) SELECT 1), 'x.csv'", "plain identifier"),
    (
        'WITH RECURSIVE "x.csv"(a) AS (SELECT * FROM "x.csv" UNION ALL '
        'SELECT * FROM "x.csv" WHERE false) SELECT * FROM "x.csv"',
        "plain identifier",
    ),
]


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture
def bait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with an ``x.csv`` a replacement scan WOULD find."""
    (tmp_path / "x.csv").write_text("secret,value\nhunter2,42\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def shared(events_db: Path) -> Iterator[SharedStore]:
    """The events database opened by its writer, read through a SharedStore."""
    store = Store.open(events_db)
    yield SharedStore(store)
    store.close()


def _counts(store: Store) -> dict[str, int]:
    tables = ["events", "files", "rejects", "quarantine", "schema_version", "feedback_progress"]
    counts = {t: int(store.query(f"SELECT count(*) FROM {t}")[1][0][0]) for t in tables}
    _, found = store.query("SELECT count(*) FROM duckdb_tables() WHERE database_name <> 'system'")
    counts["tables"] = int(found[0][0])
    return counts


@pytest.mark.parametrize(("sql", "reason"), WRITES)
def test_every_write_statement_is_refused_with_its_reason(
    shared: SharedStore, bait: Path, sql: str, reason: str
) -> None:
    """Anything but one SELECT is refused before it runs, saying what was refused."""
    with pytest.raises(SqlRefusedError) as caught:
        run_readonly(shared, sql)
    assert reason in caught.value.reason


@pytest.mark.parametrize(("sql", "reason"), READS)
def test_reads_outside_the_events_database_are_refused(
    shared: SharedStore, bait: Path, sql: str, reason: str
) -> None:
    """A SELECT that would read a file, another catalog, a sequence or a setting is refused."""
    with pytest.raises(SqlRefusedError) as caught:
        run_readonly(shared, sql)
    assert reason in caught.value.reason


@pytest.mark.slow
def test_the_refusal_suite_leaves_the_database_byte_for_byte_unchanged(
    events_db: Path, tmp_path: Path, bait: Path
) -> None:
    """After every refused statement the file's bytes, row counts and sequence are as before."""
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(events_db, db)
    store = Store.open(db)
    store.close()
    before = digest(db)
    store = Store.open(db)
    counts = _counts(store)
    source = SharedStore(store)
    for sql, _ in WRITES + READS:
        with pytest.raises(SqlRefusedError):
            run_readonly(source, sql)
    assert _counts(store) == counts
    assert not (bait / "out.csv").exists()
    assert not (bait / "exported").exists()
    store.close()
    assert digest(db) == before
    store = Store.open(db)
    _, found = store.query("SELECT nextval('file_ids')")
    store.close()
    assert found == [(2,)]  # one file was ingested: the sequence never moved


_WRITE_TOKENS = [
    ["INSERT", "INTO", "events", "(type)", "VALUES", "('d')"],
    ["DELETE", "FROM", "events"],
    ["UPDATE", "events", "SET", "rcpt", "=", "'x'"],
    ["DROP", "TABLE", "events"],
    ["CREATE", "TABLE", "t", "AS", "SELECT", "1"],
    ["ALTER", "TABLE", "events", "DROP", "COLUMN", "rcpt"],
    ["COPY", "events", "TO", "'out.csv'"],
    ["ATTACH", "'other.duckdb'", "AS", "o"],
    ["SET", "threads", "=", "1"],
    ["PRAGMA", "enable_profiling"],
    ["CHECKPOINT"],
    ["INSTALL", "httpfs"],
    ["CALL", "checkpoint()"],
    ["TRUNCATE", "events"],
    ["SELECT", "*", "FROM", "read_csv('x.csv')"],
    ["SELECT", "nextval('file_ids')"],
    ["SELECT", "*", "FROM", "'x.csv'"],
    ["SELECT", "1", ";", "DROP", "TABLE", "events"],
    ["WITH", "d", "AS", "(DELETE", "FROM", "events", "RETURNING", "*)", "SELECT", "*", "FROM", "d"],
]
_SEPARATORS = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", " /* x; */ ", " -- c;\n", "/**/ "])


@st.composite
def _write_variants(draw: st.DrawFn) -> str:
    tokens = draw(st.sampled_from(_WRITE_TOKENS))
    out = [draw(st.sampled_from(["", " ", "\n", "/* lead */ ", "-- lead\n"]))]
    for token in tokens:
        if token.isalpha():
            flips = draw(st.lists(st.booleans(), min_size=len(token), max_size=len(token)))
            token = "".join(
                c.lower() if f else c.upper() for c, f in zip(token, flips, strict=True)
            )
        out.extend([token, draw(_SEPARATORS)])
    out.append(draw(st.sampled_from(["", ";", " ; ", "; -- end"])))
    return "".join(out)


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sql=_write_variants())
def test_random_variants_of_write_statements_are_all_refused(
    shared: SharedStore, bait: Path, sql: str
) -> None:
    """Keyword case, whitespace and comments never sneak a write or a file read through."""
    with pytest.raises(SqlRefusedError):
        run_readonly(shared, sql)


ANALYST = [
    "SELECT type, bounce_class, count(*) AS n FROM events GROUP BY ALL ORDER BY n DESC",
    "WITH d AS (SELECT rcpt_domain, count(*) AS n FROM events GROUP BY 1)"
    " SELECT * FROM d ORDER BY n DESC",
    "SELECT rcpt_domain, vmta, time_logged,"
    " row_number() OVER (PARTITION BY rcpt_domain ORDER BY time_logged DESC) AS rn,"
    " lag(time_logged) OVER w AS previous FROM events WINDOW w AS (ORDER BY time_logged)"
    " QUALIFY rn <= 2",
    "SELECT e.rcpt, f.path FROM events e JOIN files f USING (file_id) WHERE e.type = 'b'",
    "SELECT c.rcpt_domain, count(*) FROM complaints c LEFT JOIN daily_domain_stats s"
    " ON s.rcpt_domain = c.rcpt_domain GROUP BY ALL",
    "SELECT * FROM daily_domain_stats ORDER BY day DESC, rcpt_domain",
    "SELECT * FROM top_bounce_diagnostics LIMIT 5",
    "SELECT path, bytes_behind, lag_seconds FROM ingest_lag",
    "SELECT source_file, source_offset, reason, decode(raw) FROM quarantine",
    "SELECT date_trunc('hour', time_logged) AS hour, count(*) FILTER (WHERE type = 'd')"
    " / count(*) AS rate FROM events GROUP BY 1 ORDER BY 1",
    "SELECT rcpt_domain, quantile_cont(dlv_size, 0.9), approx_count_distinct(rcpt)"
    " FROM events GROUP BY ALL",
    "FROM events SELECT count(*) WHERE bounce_class = 'hard' OR type = 'f'",
    "SELECT * FROM events WHERE rcpt_domain IN (SELECT rcpt_domain FROM complaints)",
    "SELECT * FROM events PIVOT (count(*) FOR type IN ('d', 'b')) LIMIT 3",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT * FROM n",
    "SELECT d.day FROM range(DATE '2026-11-01', DATE '2026-11-25', INTERVAL 1 DAY) d(day)",
    "SELECT unnest(['a', 'b']) AS x, json_extract_string(extra, '$.k') FROM events LIMIT 2",
    "SELECT e.* EXCLUDE (extra) FROM main.events e LIMIT 1",
    "DESCRIBE events",
    "SUMMARIZE SELECT type, dlv_size FROM events",
    "SHOW TABLES",
    'SELECT "type", count(*) FROM "EVENTS" GROUP BY 1',
    "SELECT 1 /* ; DROP TABLE events */",
    "SELECT 1; -- trailing comment",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
]


@pytest.mark.parametrize("sql", ANALYST)
def test_analyst_queries_run(shared: SharedStore, bait: Path, sql: str) -> None:
    """Joins, CTEs, window functions, views and GROUP BY over events are allowed."""
    result = run_readonly(shared, sql)
    assert result.columns
    assert len(result.types) == len(result.columns)
    assert not result.truncated


def test_results_hold_the_stored_rows(shared: SharedStore, events_db: Path) -> None:
    """A count through the endpoint equals the rows ingested from the file."""
    result = run_readonly(shared, "SELECT type, count(*) FROM events GROUP BY 1 ORDER BY 1")
    expected: dict[str, int] = {}
    for row in raw_events(shared.store.conn):
        expected[row.type] = expected.get(row.type, 0) + 1
    assert dict(result.rows) == expected
    assert sum(expected.values()) == SYNTHETIC + 3
    assert result.columns == ["type", "count_star()"]
    assert result.types == ["VARCHAR", "BIGINT"]


def test_a_cte_named_like_a_file_is_refused(shared: SharedStore, bait: Path) -> None:
    """A CTE named like a file is refused: where it is not yet bound, DuckDB reads the file."""
    with pytest.raises(SqlRefusedError, match="plain identifier"):
        run_readonly(shared, 'WITH "x.csv" AS (SELECT 1 AS a) SELECT * FROM "x.csv"')


def test_the_row_limit_truncates_and_says_so(shared: SharedStore) -> None:
    """More rows than ``max_rows`` come back cut to ``max_rows`` with ``truncated`` set."""
    result = run_readonly(shared, "SELECT * FROM events ORDER BY time_logged", max_rows=25)
    assert len(result.rows) == 25
    assert result.truncated
    exact = run_readonly(shared, "SELECT * FROM range(25)", max_rows=25)
    assert len(exact.rows) == 25
    assert not exact.truncated


def test_a_huge_result_is_never_materialised(shared: SharedStore) -> None:
    """A billion-row SELECT returns its first rows at once: only max_rows + 1 are fetched."""
    result = run_readonly(shared, "SELECT * FROM range(1000000000) r(i)", max_rows=5, timeout=60)
    assert [r[0] for r in result.rows] == [0, 1, 2, 3, 4]
    assert result.truncated


def test_a_slow_query_is_interrupted(shared: SharedStore) -> None:
    """A query running past the timeout is interrupted; the store answers the next one."""
    slow = "SELECT sum(range % 7) FROM range(100000000000)"  # long, in constant memory
    with pytest.raises(SqlTimeoutError) as caught:
        run_readonly(shared, slow, timeout=0.3)
    assert caught.value.timeout == 0.3
    assert run_readonly(shared, "SELECT count(*) FROM events").rows == [(SYNTHETIC + 3,)]


def test_duckdb_errors_carry_their_first_line(shared: SharedStore) -> None:
    """A query DuckDB rejects raises SqlError with DuckDB's one-line message."""
    with pytest.raises(SqlError) as caught:
        run_readonly(shared, "SELECT no_such_column FROM events")
    assert type(caught.value) is SqlError
    assert caught.value.reason.startswith("Binder Error")
    assert "\n" not in caught.value.reason
    with pytest.raises(SqlError, match="Parser Error"):
        run_readonly(shared, "SELEC 1")


def test_the_read_only_file_source_runs_queries(events_db: Path) -> None:
    """Without a writer in the process, the file is opened read-only for each query."""
    result = run_readonly(ReadOnlyFile(events_db), "SELECT count(*) FROM events")
    assert result.rows == [(SYNTHETIC + 3,)]


def test_error_classes_say_whose_fault_it_is(tmp_path: Path) -> None:
    """Refused, failed and timed-out SQL are input errors; an unavailable store is ours."""
    for cls in (SqlError, SqlRefusedError, SqlTimeoutError):
        assert issubclass(cls, InputDataError)
    assert not SqlRefusedError("x").retryable
    with pytest.raises(EventsUnavailableError) as caught:
        run_readonly(ReadOnlyFile(tmp_path / "missing.duckdb"), "SELECT 1")
    assert isinstance(caught.value, StoreError)
    assert caught.value.retryable


def test_limits_are_checked(shared: SharedStore) -> None:
    """A non-positive row limit or timeout is a programming error, refused at once."""
    with pytest.raises(ValueError, match="max_rows"):
        run_readonly(shared, "SELECT 1", max_rows=0)
    with pytest.raises(ValueError, match="timeout"):
        run_readonly(shared, "SELECT 1", timeout=0)
    with pytest.raises(SqlRefusedError, match="longer than"):
        run_readonly(shared, "SELECT 1" + " " * 100_000)


def test_an_interrupt_only_stops_its_own_cursor(shared: SharedStore) -> None:
    """Interrupting the endpoint's query leaves the writer's own connection usable."""
    with pytest.raises(SqlTimeoutError):
        run_readonly(shared, "SELECT sum(range % 7) FROM range(100000000000)", timeout=0.2)
    row = shared.store.conn.execute("SELECT count(*) FROM files").fetchone()
    assert row == (1,)
    assert isinstance(shared.store.conn, duckdb.DuckDBPyConnection)

"""The SQL sandbox: user SQL runs over a snapshot, in a process that cannot reach files."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from acctpipe.analytics import (
    EventsUnavailableError,
    SharedStore,
    SqlError,
    SqlRefusedError,
    run_readonly,
)
from acctpipe.analytics import sandbox as sandbox_module
from acctpipe.analytics._worker import _open
from acctpipe.analytics.sandbox import SqlSandbox
from acctpipe.eventstore import Store
from tests.acctpipe.analytics._data import SYNTHETIC, build

SECRET = "CANARY-0b94d2-do-not-leak"
LIMITS = {"memory_limit": 256 << 20, "threads": 1}


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding files whose content must never come out of a query."""
    home = tmp_path_factory.mktemp("host")
    # A header the CSV sniffer recognises (text over numbers): binder errors list it.
    (home / "secret.csv").write_text(f"{SECRET},note\n1,2\n3,4\n")
    (home / "secret.txt").write_text(f"password {SECRET}\n")
    (home / "secret.json").write_text(json.dumps({"password": SECRET}))
    return home


@pytest.fixture(scope="module")
def shared(events_db: Path) -> Iterator[SharedStore]:
    """The events database opened by its writer (as under `acctpipe run`)."""
    store = Store.open(events_db)
    yield SharedStore(store)
    store.close()


@pytest.fixture(scope="module")
def unguarded(
    shared: SharedStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A snapshot opened exactly as a worker opens it — queried here with NO guard."""
    target = tmp_path_factory.mktemp("snapshot") / "events.duckdb"
    shared.snapshot(target)
    conn = _open(str(target), LIMITS)
    yield conn
    conn.close()


def _listing(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


def _escapes(home: Path) -> list[str]:
    csv, txt = home / "secret.csv", home / "secret.txt"
    return [
        f"SELECT * FROM read_csv('{csv}')",
        f"SELECT * FROM read_text('{txt}')",
        f"SELECT content FROM read_blob('{txt}')",
        f"SELECT * FROM '{csv}'",
        f"SELECT * FROM glob('{home}/*')",
        f"SELECT json_serialize_plan('SELECT zzz FROM read_csv(''{csv}'')')",
        f"COPY (SELECT 1) TO '{home}/out.csv'",
        f"EXPORT DATABASE '{home}/exported'",
        f"ATTACH '{home}/other.duckdb' AS other",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET memory_limit = '64GB'",
        "INSTALL httpfs",
        "LOAD httpfs",
    ]


def test_the_worker_instance_reaches_no_file_even_without_the_guard(
    unguarded: duckdb.DuckDBPyConnection, canary: Path
) -> None:
    """Without the guard, the worker's DuckDB still reads, writes and unlocks nothing."""
    before = _listing(canary)
    for sql in _escapes(canary):
        try:
            shown = str(unguarded.execute(sql).fetchall())
        except duckdb.Error as exc:
            shown = str(exc)
        assert SECRET not in shown, sql
    assert _listing(canary) == before
    settings_now = dict(unguarded.execute("SELECT name, value FROM duckdb_settings()").fetchall())
    assert settings_now["enable_external_access"] == "false"
    assert settings_now["lock_configuration"] == "true"
    assert settings_now["temp_directory"] == ""


_WRAPPERS = [
    "SELECT * FROM {call}",
    "SELECT (SELECT string_agg(x::VARCHAR, ',') FROM {call} x)",
    "SELECT json_serialize_plan('SELECT zzz FROM {quoted}')",
    "SELECT json_serialize_plan('SELECT * FROM {quoted}')",
    "WITH c AS (SELECT * FROM {call}) SELECT * FROM c",
    "SELECT * FROM events WHERE rcpt IN (SELECT * FROM {call})",
    "SELECT * FROM query('SELECT * FROM {quoted}')",
    "SUMMARIZE SELECT * FROM {call}",
]
_READERS = [
    "read_csv({path})",
    "read_csv_auto({path}, header = true)",
    "read_text({path})",
    "read_blob({path})",
    "read_json({path})",
    "read_json_auto({path})",
    "sniff_csv({path})",
    "glob({path})",
    "{path}",
]


def _attempt(home: Path, wrapper: str, reader: str, name: str, spelling: int, case: int) -> str:
    spelled = [
        f"{home}/{name}",
        f"{home}/./{name}",
        f"{home}/../{home.name}/{name}",
        f"file://{home}/{name}",
        f"{home}//{name}",
    ][spelling]
    if case == 1:
        reader = reader.upper().replace("{PATH}", "{path}")
    elif case == 2 and reader.startswith("read_"):  # a quoted function name
        head, _, rest = reader.partition("(")
        reader = f'"{head}"({rest}'
    call = reader.replace("{path}", f"'{spelled}'")
    quoted = reader.replace("{path}", f"''{spelled}''")
    return wrapper.format(call=call, quoted=quoted)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    wrapper=st.sampled_from(_WRAPPERS),
    reader=st.sampled_from(_READERS),
    name=st.sampled_from(["secret.csv", "secret.txt", "secret.json", "secret*", "*"]),
    spelling=st.integers(0, 4),
    case=st.integers(0, 2),
)
@example(wrapper=_WRAPPERS[2], reader=_READERS[0], name="secret.csv", spelling=0, case=0)
def test_no_generated_escape_shows_the_canary(
    shared: SharedStore,
    unguarded: duckdb.DuckDBPyConnection,
    canary: Path,
    wrapper: str,
    reader: str,
    name: str,
    spelling: int,
    case: int,
) -> None:
    """Whatever file function, path spelling or wrapper, no answer or error holds the secret."""
    sql = _attempt(canary, wrapper, reader, name, spelling, case)
    try:
        shown = str(run_readonly(shared, sql, timeout=5).rows)
    except SqlError as exc:
        shown = exc.reason
    assert SECRET not in shown, sql
    try:  # and the first line alone, without the guard
        shown = str(unguarded.execute(sql).fetchmany(50))
    except duckdb.Error as exc:
        shown = str(exc)
    assert SECRET not in shown, sql
    assert "out.csv" not in _listing(canary)


@pytest.mark.slow
def test_answers_say_how_old_their_snapshot_is(events_db: Path, tmp_path: Path) -> None:
    """A new row shows up once the snapshot is older than max_age; until then the old count."""
    db = tmp_path / "events.duckdb"
    db.write_bytes(events_db.read_bytes())
    store = Store.open(db)
    try:
        sandbox = SqlSandbox(SharedStore(store), max_age=3600)
        first = sandbox.run("SELECT count(*) FROM events", max_rows=1, max_bytes=100, timeout=5)
        assert first.rows == [(SYNTHETIC + 3,)]
        assert first.snapshot_at is not None
        store.conn.execute("INSERT INTO events SELECT * FROM events LIMIT 1")
        again = sandbox.run("SELECT count(*) FROM events", max_rows=1, max_bytes=100, timeout=5)
        assert again.rows == first.rows  # the same snapshot, and it says when it was taken
        assert again.snapshot_at == first.snapshot_at
        sandbox.snapshots.max_age = 0
        sandbox.snapshots.spacing = 0
        fresh = sandbox.run("SELECT count(*) FROM events", max_rows=1, max_bytes=100, timeout=5)
        assert fresh.rows == [(SYNTHETIC + 4,)]
        assert fresh.snapshot_at is not None
        assert fresh.snapshot_at > first.snapshot_at
        sandbox.close()
    finally:
        store.close()


def test_rows_are_cut_at_the_byte_limit(shared: SharedStore) -> None:
    """Rows beyond the byte budget are left out and the result says the bytes cut it."""
    sandbox = SqlSandbox(shared)
    result = sandbox.run(
        "SELECT repeat('x', 1000) AS s FROM range(1000)", max_rows=1000, max_bytes=10_000, timeout=5
    )
    assert 0 < len(result.rows) < 10
    assert result.truncated
    assert result.truncated_by == "bytes"
    assert sum(len(json.dumps(list(r))) for r in result.rows) <= 10_000
    rows = sandbox.run("SELECT * FROM range(50)", max_rows=10, max_bytes=10_000, timeout=5)
    assert rows.truncated_by == "rows"
    assert len(rows.rows) == 10
    sandbox.close()


@pytest.mark.slow
def test_a_dead_worker_is_replaced(shared: SharedStore) -> None:
    """If a worker process dies, that query fails with a reason and the next one runs."""
    sandbox = SqlSandbox(shared, workers=1, memory_limit=64 << 20)
    assert sandbox.run("SELECT 1", max_rows=1, max_bytes=100, timeout=5).rows == [(1,)]
    (worker,) = sandbox._pool._idle
    os.kill(worker.proc.pid, 9)
    with pytest.raises(SqlError, match="worker process"):
        sandbox.run("SELECT 2", max_rows=1, max_bytes=100, timeout=5)
    assert sandbox.run("SELECT 3", max_rows=1, max_bytes=100, timeout=5).rows == [(3,)]
    sandbox.close()


def test_the_guard_still_refuses_in_the_worker(shared: SharedStore) -> None:
    """The guard runs as the second line: a file read is refused with its reason."""
    with pytest.raises(SqlRefusedError, match="read_text"):
        run_readonly(shared, "SELECT * FROM read_text('/etc/hostname')")
    with pytest.raises(SqlRefusedError, match="json_serialize_plan"):
        run_readonly(shared, "SELECT json_serialize_plan('SELECT 1')")
    with pytest.raises(SqlRefusedError, match="sleep_ms"):
        run_readonly(shared, "SELECT pg_sleep(1)")


def test_a_copy_in_use_outlives_its_replacement(events_db: Path, tmp_path: Path) -> None:
    """A query that chose a copy still finds it on disk after a newer copy replaced it."""
    db = tmp_path / "events.duckdb"
    db.write_bytes(events_db.read_bytes())
    store = Store.open(db)
    try:
        snapshots = SqlSandbox(SharedStore(store), max_age=0).snapshots
        snapshots.spacing = 0  # a copy of this small file takes no time worth spacing
        with snapshots.lease() as first:
            store.conn.execute("INSERT INTO events SELECT * FROM events LIMIT 1")
            second = snapshots.current()
            assert second.path != first.path
            assert first.path.exists()  # still leased
        assert not first.path.exists()
        assert second.path.exists()
        snapshots.close()
        assert not second.path.exists()
    finally:
        store.close()


@pytest.mark.slow
def test_a_worker_that_cannot_start_is_a_503_and_the_next_query_retries(
    shared: SharedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies at start-up is the server's problem (503); the next query starts one."""
    sandbox = SqlSandbox(shared, workers=1, memory_limit=100 << 20)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(EventsUnavailableError, match="did not start"):
        sandbox.run("SELECT 1", max_rows=1, max_bytes=100, timeout=5)
    monkeypatch.undo()
    assert sandbox.run("SELECT 1", max_rows=1, max_bytes=100, timeout=5).rows == [(1,)]
    sandbox.close()


@pytest.mark.slow
def test_a_query_that_runs_out_of_memory_does_not_spoil_the_next_ones(
    shared: SharedStore,
) -> None:
    """After one query runs out of memory, a query that worked before still works."""
    sandbox = SqlSandbox(shared, workers=1, memory_limit=64 << 20)
    fair = "SELECT repeat('x', 1000000) AS x FROM range(60)"
    assert len(sandbox.run(fair, max_rows=100, max_bytes=64 << 20, timeout=10).rows) == 60
    with pytest.raises(SqlError, match=r"(?i)memory"):
        sandbox.run(
            "SELECT repeat('é', 5000000) FROM range(100)",
            max_rows=100,
            max_bytes=64 << 20,
            timeout=10,
        )
    # The worker that ran it kept its swollen heap; the next query must not inherit it.
    assert len(sandbox.run(fair, max_rows=100, max_bytes=64 << 20, timeout=10).rows) == 60
    sandbox.close()


def _deleted_files(pids: list[int]) -> list[str]:
    found = []
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if ".duckdb" in target and target.endswith("(deleted)"):
                    found.append(target)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_idle_workers_let_go_of_deleted_copies(
    events_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy replaced by a newer one stops taking disk space soon after the last query that
    read it: idle workers close their snapshot (each copy is the size of the whole store)."""
    monkeypatch.setattr(sandbox_module, "_IDLE_CLOSE", 0.3)
    db = tmp_path / "events.duckdb"
    db.write_bytes(events_db.read_bytes())
    store = Store.open(db)
    # A memory limit no other test uses: a pool of its own, with the short idle time.
    sandbox = SqlSandbox(SharedStore(store), workers=2, memory_limit=72 << 20, max_age=0)
    sandbox.snapshots.spacing = 0
    try:
        slow = "SELECT count(*) FROM range(200000000)"
        with ThreadPoolExecutor(2) as pool:  # two queries at once: two workers
            list(
                pool.map(lambda _: sandbox.run(slow, max_rows=1, max_bytes=99, timeout=20), [0, 1])
            )
        store.conn.execute("INSERT INTO events SELECT * FROM events LIMIT 1")
        sandbox.run("SELECT 1", max_rows=1, max_bytes=99, timeout=5)  # a new copy
        pids = [w.proc.pid for w in sandbox._pool._idle]
        assert len(pids) == 2
        time.sleep(1.0)
        assert _deleted_files(pids) == []
    finally:
        sandbox.close()
        store.close()

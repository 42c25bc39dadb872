"""/v1/sql under `acctpipe run`: no key can read, write or wait on the host through it.

The app here is set up as `acctpipe run` and `serve --watch` set it up: the
event store is open for writing in this process (:class:`SharedStore`), and
beside it lie the files an attacker wants — the MTA config with SMTP passwords,
a DKIM key, the SQLite store with the API keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from acctpipe.analytics import SharedStore
from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.eventstore import Store
from acctpipe.sqlstore import make_engine, migrate
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from tests.acctpipe.analytics._data import SYNTHETIC, build

SECRET = "CANARY-7f3a9c-smtp-password"
KEY_SECRET = "CANARY-5d21e0-dkim-private-key"


@dataclass(frozen=True)
class Host:
    """The node's data directory and what lies in it."""

    data: Path
    conf: Path
    key: Path
    sqlite: Path
    events: Path

    def files(self) -> dict[str, str]:
        """Every name under the data directory (but the snapshots), with digests of the secrets.

        The stores change under the app's own writes: the SQLite store (API key use) and
        the event store are checked by opening them instead.
        """
        found: dict[str, str] = {}
        for path in sorted(self.data.rglob("*")):
            name = str(path.relative_to(self.data))
            if name.startswith(".events.duckdb.sql-"):
                continue  # the sandbox's own copies
            kept = path in (self.conf, self.key)
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest() if kept else ""
        return found


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test events database, built once for this module (closed)."""
    return build(tmp_path_factory.mktemp("events"))


@pytest.fixture
def host(tmp_path: Path, events_db: Path) -> Host:
    """A data directory like `acctpipe run`'s, with secrets beside the event store."""
    data = tmp_path / "data"
    data.mkdir()
    conf = data / "mta.conf"
    # The secret is on the first line: DuckDB's CSV sniffer takes it for the header,
    # and a binder error lists the header's names.
    conf.write_text(f"{SECRET}\n<smtp-user alice>\n  password {SECRET}\n</smtp-user>\n")
    key = data / "dkim.key"
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{KEY_SECRET}\n-----END PRIVATE KEY-----\n")
    sqlite = data / "acctpipe.sqlite"
    migrate(f"sqlite:///{sqlite}")
    events = data / "events.duckdb"
    events.write_bytes(events_db.read_bytes())
    return Host(data, conf, key, sqlite, events)


@pytest.fixture
def engine(host: Host) -> Iterator[Engine]:
    """The node's SQLite store (suppressions, API keys)."""
    eng = make_engine(f"sqlite:///{host.sqlite}")
    yield eng
    eng.dispose()


@pytest.fixture
def store(host: Host) -> Iterator[Store]:
    """The event store, open for writing in this process (as the tailer holds it)."""
    opened = Store.open(host.events)
    yield opened
    opened.close()


@pytest.fixture
def services(engine: Engine, store: Store) -> Services:
    """Two query slots, so one key's share is one."""
    return Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        events=SharedStore(store),
        settings=ApiSettings(key_cache_seconds=0, sql_concurrency=2, sql_timeout=10),
    )


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, in this process (so its memory is this process's)."""
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        yield c


def _auth(services: Services, name: str = "analyst") -> dict[str, str]:
    return {"Authorization": f"Bearer {services.keys.create(name, 'read')[1]}"}


def _escapes(host: Host) -> list[str]:
    conf, key, sqlite, data = host.conf, host.key, host.sqlite, host.data
    return [
        # The reported one: the inner query is planned on the server's connection, and
        # the binder error quotes the file's first line.
        f"SELECT json_serialize_plan('SELECT zzz FROM read_csv(''{conf}'')')",
        f"SELECT json_serialize_plan('SELECT zzz FROM read_csv(''{key}'', header = true)')",
        f"SELECT json_serialize_plan('SELECT * FROM read_text(''{conf}'')')",
        f"SELECT json_serialize_plan('SELECT * FROM read_blob(''{key}'')')",
        f"SELECT json_serialize_plan('SELECT * FROM glob(''{data}/*'')')",
        f"SELECT json_serialize_plan('EXPORT DATABASE ''{data}/exported''')",
        f"SELECT json_serialize_plan('ATTACH ''{sqlite}'' AS s (TYPE sqlite)')",
        f"SELECT json_serialize_plan('SELECT * FROM sqlite_scan(''{sqlite}'', ''api_keys'')')",
        f"SELECT json_serialize_plan('SELECT * FROM ''{conf}''')",
        f"SELECT json_serialize_plan('COPY (SELECT 1) TO ''{data}/out.csv''')",
        "SELECT json_serialize_plan('SELECT * FROM duckdb_settings()')",
        f"SELECT * FROM read_text('{conf}')",
        f"SELECT content FROM read_blob('{key}')",
        f"SELECT * FROM read_csv('{conf}')",
        f"SELECT * FROM '{conf}'",
        f"SELECT * FROM glob('{data}/*')",
        "SELECT current_setting('home_directory')",
        "SELECT * FROM duckdb_settings()",
        "SELECT getenv('DATABASE_URL')",
    ]


@pytest.mark.slow
async def test_no_escape_reads_or_changes_a_file_of_the_host(
    client: httpx.AsyncClient, services: Services, host: Host
) -> None:
    """No SELECT reads the config, a key or the SQLite store, nor creates or changes a file."""
    auth = _auth(services)
    before = host.files()
    for sql in _escapes(host):
        response = await client.post("/v1/sql", json={"sql": sql}, headers=auth)
        assert response.status_code in (200, 400), (sql, response.text)
        assert SECRET not in response.text, sql
        assert KEY_SECRET not in response.text, sql
    assert host.files() == before
    assert not (host.data / "exported").exists()
    assert not (host.data / "out.csv").exists()
    # The SQLite store is whole (no lock of it was dropped) and the events still answer.
    with sqlite3.connect(host.sqlite) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert services.keys.list()
    response = await client.post(
        "/v1/sql", json={"sql": "SELECT count(*) FROM events"}, headers=auth
    )
    assert response.json()["rows"] == [[SYNTHETIC + 3]]


@pytest.mark.slow
async def test_pg_sleep_is_refused_at_once(client: httpx.AsyncClient, services: Services) -> None:
    """pg_sleep (a macro over the refused sleep_ms) is refused before it runs, not slept."""
    auth = _auth(services)
    started = time.monotonic()
    response = await client.post("/v1/sql", json={"sql": "SELECT pg_sleep(3)"}, headers=auth)
    assert response.status_code == 400
    assert "sleep_ms" in response.json()["detail"]
    assert time.monotonic() - started < 2.5


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


@pytest.mark.slow
async def test_a_huge_value_is_bounded_in_bytes_and_server_memory(
    client: httpx.AsyncClient, services: Services
) -> None:
    """A 300 MB value, or millions of small ones, never reach the server: cut, RSS stays put."""
    auth = _auth(services)
    # Warm up (worker, snapshot) so the peak below is the big query's alone.
    await client.post("/v1/sql", json={"sql": "SELECT 1"}, headers=auth)
    limit = services.settings.sql_max_bytes
    wide = ", ".join(f"i * {n} + 100000" for n in range(400))  # 4M distinct numbers
    for sql in (
        "SELECT repeat('x', 300000000)",
        "SELECT repeat('x', 1000000) FROM range(300)",
        f"SELECT {wide} FROM range(10000) t(i)",
    ):
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS to the current one
        base = _peak_rss()
        response = await client.post("/v1/sql", json={"sql": sql}, headers=auth)
        grown = _peak_rss() - base
        assert response.status_code in (200, 400), response.text[:200]
        assert len(response.content) < limit + (64 << 10)
        if response.status_code == 200:
            assert response.json()["truncated_by"] == "bytes"
        assert grown < 120 << 20, f"the server grew by {grown >> 20} MiB"


@pytest.mark.slow
async def test_one_key_cannot_take_every_query_slot(
    client: httpx.AsyncClient, services: Services
) -> None:
    """While one key's slow query runs, its next one gets 429; another key still gets answers."""
    greedy, other = _auth(services, "greedy"), _auth(services, "other")
    slow = {"sql": "SELECT sum(range % 7) FROM range(100000000000)", "timeout": 2}
    first = asyncio.create_task(client.post("/v1/sql", json=slow, headers=greedy))
    await asyncio.sleep(0.5)
    second = asyncio.create_task(client.post("/v1/sql", json=slow, headers=greedy))
    await asyncio.sleep(0.3)
    answer = await client.post("/v1/sql", json={"sql": "SELECT 42"}, headers=other)
    refused = await second
    assert (await first).status_code == 400  # interrupted at its time limit
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert answer.status_code == 200
    assert answer.json()["rows"] == [[42]]

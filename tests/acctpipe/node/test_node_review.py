"""The node's tailer thread survives failures and drains on stop; summaries miss no row."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader, Tailer
from acctpipe.node.api import Node, NodeOptions
from acctpipe.sqlstore import open_database
from acctpipe.webhooks import WebhookStore
from mta.acct import DEFAULT_HEADER, AccountingEncoder

ENCODER = AccountingEncoder(DEFAULT_HEADER)


def _rows(first: int, count: int, at: datetime) -> bytes:
    """``count`` delivered rows logged at ``at`` (rcpt ``u<N>@example.com``)."""
    return b"".join(
        ENCODER.encode(
            {
                "type": "d",
                "timeLogged": at,
                "timeQueued": at,
                "orig": "news@example.com",
                "rcpt": f"u{n}@example.com",
                "dsnStatus": "2.0.0",
                "dsnDiag": "smtp;250 2.0.0 OK",
                "vmta": "vmta-a",
            }
        )
        for n in range(first, first + count)
    )


def _count(node: Node) -> int:
    """Events in the node's store, read through its own connection."""
    assert node.store is not None
    cursor = node.store.conn.cursor()
    try:
        row = cursor.execute("SELECT count(*) FROM events").fetchone()
    finally:
        cursor.close()
    return int(row[0]) if row else 0


async def _until(check: Any, timeout: float = 10.0) -> bool:
    """Poll ``check()`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return bool(check())


@pytest.fixture
async def node_factory(tmp_path: Path) -> AsyncIterator[Any]:
    """Start nodes that tail ``tmp_path/acct``; stop them all afterwards."""
    started: list[Node] = []
    (tmp_path / "acct").mkdir()

    async def make(**kw: Any) -> Node:
        options = NodeOptions(
            database_url=f"sqlite:///{tmp_path / 'acctpipe.sqlite'}",
            db=tmp_path / "events.duckdb",
            watch=(tmp_path / "acct",),
            rescan=0.1,
            port=0,
            node="node-x",
            **kw,
        )
        node = Node(options)
        await node.start()
        started.append(node)
        return node

    yield make
    for node in started:
        await node.stop()


@pytest.mark.slow
async def test_a_failed_parquet_export_does_not_stop_ingestion(
    tmp_path: Path, node_factory: Any
) -> None:
    """A failed Parquet export (disk full, bad path) leaves ingest running; readiness recovers."""
    export = tmp_path / "parquet"
    blocker = tmp_path / "parquet.tmp"  # where the export stages: a file there makes it fail
    blocker.write_text("not a directory")
    node = await node_factory(export_dir=export, export_every=0.0, webhooks=False)
    acct = tmp_path / "acct" / "acct.csv"
    acct.write_bytes(ENCODER.header() + _rows(0, 5, datetime.now(UTC)))
    assert await _until(lambda: _count(node) == 5, timeout=5)
    await asyncio.sleep(0.5)  # the export after that pass has failed by now
    blocker.unlink()  # the operator frees the space
    with acct.open("ab") as f:
        f.write(_rows(5, 5, datetime.now(UTC)))
    assert await _until(lambda: _count(node) == 10, timeout=5)
    assert node._checks["tailer"]() is None


@pytest.mark.slow
async def test_rows_logged_while_the_node_was_down_are_summarised(
    tmp_path: Path, node_factory: Any
) -> None:
    """Deliveries logged while acctpipe was stopped show up in a later delivery.summary."""
    engine = open_database(f"sqlite:///{tmp_path / 'acctpipe.sqlite'}")
    try:
        WebhookStore(engine).create("http://127.0.0.1:9/hook", ["delivery.summary"])
    finally:
        engine.dispose()
    logged = datetime.now(UTC) - timedelta(seconds=30)  # during a restart
    (tmp_path / "acct" / "acct.csv").write_bytes(ENCODER.header() + _rows(0, 7, logged))
    node = await node_factory(summary_every=0.3, webhooks=False)
    assert node.engine is not None
    store = WebhookStore(node.engine)
    assert await _until(lambda: _count(node) == 7)

    def delivered() -> int:
        return sum(
            m.payload["data"]["totals"]["delivered"]
            for m in store.messages(event_type="delivery.summary")
        )

    assert await _until(lambda: delivered() >= 7)
    await asyncio.sleep(1.0)  # more periods pass: quiet ones send nothing, none repeats
    assert delivered() == 7


def test_rows_appended_during_a_pass_are_ingested_before_the_tailer_stops(
    tmp_path: Path,
) -> None:
    """Rows the MTA writes while the last pass runs are ingested before stop returns."""
    acct_dir = tmp_path / "acct"
    acct_dir.mkdir()
    acct = acct_dir / "acct.csv"
    acct.write_bytes(ENCODER.header() + _rows(0, 3, datetime.now(UTC)))
    in_pass, release = threading.Event(), threading.Event()
    passes = [0]

    def on_pass() -> None:  # the feedback loop after a pass, slow (a busy PostgreSQL)
        passes[0] += 1
        if passes[0] == 1:
            in_pass.set()
            release.wait(10)

    store = Store.open(tmp_path / "events.duckdb")
    try:
        tailer = Tailer(Loader(store), [acct_dir], rescan=0.1, on_pass=on_pass)

        def follow() -> None:  # as the node's tailer thread does
            tailer.run()
            tailer.final_pass()

        thread = threading.Thread(target=follow)
        thread.start()
        assert in_pass.wait(10)
        with acct.open("ab") as f:  # the MTA's last rows, written during its shutdown
            f.write(_rows(3, 4, datetime.now(UTC)))
        tailer.stop()  # Node.stop, right after MtaServer.stop
        release.set()
        thread.join(10)
        row = store.conn.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        assert row[0] == 7
    finally:
        store.close()


def test_the_tailer_follows_every_accounting_and_rotation_directory(tmp_path: Path) -> None:
    """acctpipe run tails each <acct-file>/<rejectlog-file> folder and its move-to folder."""
    from acctpipe.node.full import accounting_dirs
    from mta.config import parse_config_text

    config = parse_config_text(
        "<acct-file acct/acct.csv>\n    move-to acct/old\n</acct-file>\n"
        "<rejectlog-file rejects.csv>\n</rejectlog-file>\n"
    )
    data = tmp_path / "data"
    assert accounting_dirs(config, data) == (data / "acct", data / "acct" / "old", data)


def _bounce(rcpt: str, diag: str) -> bytes:
    """One ``b`` row for ``rcpt`` with ``diag``."""
    at = datetime.now(UTC)
    return ENCODER.encode(
        {"type": "b", "timeLogged": at, "timeQueued": at, "orig": "news@example.com",
         "rcpt": rcpt, "dsnStatus": "5.0.0", "dsnDiag": f"smtp;{diag}", "vmta": "vmta-a"}
    )  # fmt: skip


def _rules_of(node: Node) -> list[tuple[str, str]]:
    """(rcpt, bounce_rule) of every event, in order of ingestion."""
    assert node.store is not None
    cursor = node.store.conn.cursor()
    try:
        rows = cursor.execute("SELECT rcpt, bounce_rule FROM events ORDER BY rowid").fetchall()
    finally:
        cursor.close()
    return [(str(a), str(b)) for a, b in rows]


def _acme_rules(path: Path, text: str) -> None:
    path.write_text(
        f'[[rule]]\nid = "acme"\ncomment = "partner gateway"\ntext = "{text}"\n'
        'category = "bad-mailbox"\nclass = "hard"\n'
    )


async def test_ingest_classifies_with_the_mta_configs_bounce_rules(
    tmp_path: Path, node_factory: Any
) -> None:
    """A node given the MTA config decides rows with its bounce-rules, as the MTA does."""
    _acme_rules(tmp_path / "acme.toml", "acme says no")
    conf = tmp_path / "mta.conf"
    conf.write_text("bounce-rules acme.toml\n")
    node = await node_factory(config=conf, webhooks=False)
    acct = tmp_path / "acct" / "acct.csv"
    acct.write_bytes(ENCODER.header() + _bounce("a@example.com", "550 acme says no"))
    assert await _until(lambda: _count(node) == 1)
    assert _rules_of(node) == [("a@example.com", "acme")]


async def test_ingest_follows_a_rule_table_provider_between_passes(
    tmp_path: Path, node_factory: Any
) -> None:
    """acctpipe run hands the running MTA's table: rows after a reload use the new one."""
    from classifiers import RuleText, load_rules

    _acme_rules(tmp_path / "v1.toml", "acme says no")
    _acme_rules(tmp_path / "v2.toml", "acme refuses")
    files = (tmp_path / "v1.toml", tmp_path / "v2.toml")
    tables = [load_rules(RuleText(str(p), p.read_text())) for p in files]
    current = [tables[0]]
    node = await node_factory(rules=lambda: current[0], webhooks=False)
    acct = tmp_path / "acct" / "acct.csv"
    acct.write_bytes(ENCODER.header() + _bounce("a@example.com", "550 acme refuses"))
    assert await _until(lambda: _count(node) == 1)
    current[0] = tables[1]  # the MTA reloaded its config
    with acct.open("ab") as f:
        f.write(_bounce("b@example.com", "550 acme refuses"))
    assert await _until(lambda: _count(node) == 2)
    rules = dict(_rules_of(node))
    assert rules["a@example.com"] != "acme"
    assert rules["b@example.com"] == "acme"

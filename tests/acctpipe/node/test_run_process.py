"""``acctpipe run``: the whole loop in one process, started and stopped like a service."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import duckdb
import httpx
import pytest

from acctpipe.api import ApiKeyStore
from acctpipe.sim.server import IspSimulator
from acctpipe.sqlstore import open_database
from tests.acctpipe.node.nodes import send, start_node


@pytest.mark.slow
async def test_run_delivers_ingests_suppresses_and_stops_cleanly(tmp_path: Path) -> None:
    """Mail in → delivered and bounced → events in DuckDB → suppression → 550 at RCPT; SIGTERM."""
    url = f"sqlite:///{tmp_path / 'node' / 'acctpipe.sqlite'}"
    (tmp_path / "node").mkdir()
    engine = open_database(url)
    _, key = ApiKeyStore(engine).create("test", "admin")
    engine.dispose()
    async with IspSimulator("default") as sim:
        node = start_node(tmp_path, "node", "127.0.0.1", sim.port, url)
        try:
            await asyncio.to_thread(node.wait_ready)
            auth = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=node.api, headers=auth, timeout=10) as api:
                ready = (await api.get("/readyz")).json()
                assert ready["ready"] is True, ready
                assert {"sql", "events", "mta", "tailer", "webhooks"} <= set(ready["components"])
                assert await send(node.smtp, "ann@example.com", "unknown-bob@example.com") == {}

                async def suppressed() -> bool:
                    found = await api.get("/v1/suppressions/unknown-bob@example.com")
                    return bool(found.json()["suppressed"])

                for _ in range(200):
                    if await suppressed():
                        break
                    await asyncio.sleep(0.1)
                # The MTA follows the store four times a second: the refusal comes shortly.
                refused: dict[str, int] = {}
                for _ in range(100):
                    refused = await send(node.smtp, "unknown-bob@example.com")
                    if refused:
                        break
                    await asyncio.sleep(0.1)
                assert refused == {"unknown-bob@example.com": 550}
                sql = {"sql": "SELECT type, count(*) FROM events GROUP BY 1 ORDER BY 1"}
                rows = (await api.post("/v1/sql", json=sql)).json()["rows"]
                assert ["d", 1] in rows
                assert any(r[0] == "b" for r in rows)
                queues = (await api.get("/v1/mta/queues")).json()
                assert queues["total"] >= 1
                metrics = (await api.get("/metrics")).text
                assert "acctpipe_queue_size" in metrics
        finally:
            code = await asyncio.to_thread(node.stop)
        assert code == 0, node.log.read_text()
    assert not (node.data / "node.json").exists()
    with duckdb.connect(str(node.data / "events.duckdb"), read_only=True) as conn:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone() or (0,)
    with (node.data / "acct" / "acct.csv").open(newline="", encoding="utf-8") as f:
        written = sum(1 for _ in csv.DictReader(f))
    assert count == written  # every accounting row, once: the last ones ingested on stop
    assert list((node.data / "parquet").rglob("*.parquet"))

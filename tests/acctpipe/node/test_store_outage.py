"""``acctpipe run`` on a shared PostgreSQL that goes away: start anyway, keep refusing, stop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from acctpipe.sim.server import IspSimulator
from acctpipe.sqlstore import make_engine, open_database
from acctpipe.sqlstore.suppressions import SuppressionStore
from tests.acctpipe.node.nodes import send, start_node
from tests.acctpipe.sqlstore.fixtures import fresh_postgres_database
from tests.acctpipe.sqlstore.proxy import FreezableProxy


@pytest.fixture
def shared_url(postgres_server: str) -> Iterator[str]:
    """A new PostgreSQL database, migrated, dropped afterwards."""
    with fresh_postgres_database() as url:
        open_database(url).dispose()
        yield url


def _suppress(url: str, address: str) -> None:
    engine = make_engine(url)
    try:
        SuppressionStore(engine).add(address)
    finally:
        engine.dispose()


async def _readyz(api: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        out: dict[str, object] = (await client.get("/readyz")).json()
        return out


@pytest.mark.slow
async def test_a_node_starts_with_the_store_down_and_stops_while_it_is_frozen(
    tmp_path: Path, shared_url: str
) -> None:
    """With the shared store down, a node that ran before starts on its local suppression
    snapshot (refusing those addresses at RCPT, saying so in /readyz) and catches up when
    the store returns; SIGTERM while the store is frozen exits promptly."""
    _suppress(shared_url, "gone@example.com")
    async with IspSimulator("default") as sim:
        with FreezableProxy() as proxy:
            url = proxy.url(shared_url)
            first = start_node(tmp_path, "n1", "127.0.0.1", sim.port, url)
            try:
                await asyncio.to_thread(first.wait_ready)
            finally:
                assert first.stop() == 0, first.log.read_text()
            assert (first.data / "suppressions.snapshot").exists()

            proxy.refuse()  # the store is down
            node = start_node(tmp_path, "n1", "127.0.0.1", sim.port, url)
            try:
                await asyncio.to_thread(node.wait_ready, 60)
                assert await send(node.smtp, "gone@example.com", "fine@example.com") == {
                    "gone@example.com": 550
                }
                ready = await _readyz(node.api)
                components = ready["components"]
                assert isinstance(components, dict)
                assert "local snapshot" in components["suppressions"]["detail"]
                # /readyz needs no key: it says what is wrong, not where the store is.
                shown = json.dumps(ready)
                assert f":{proxy.port}" not in shown
                assert f"port {proxy.port}" not in shown
                assert str(make_url(shared_url).database) not in shown

                _suppress(shared_url, "late@example.com")
                proxy.serve()  # the store is back: the node catches up
                deadline = time.monotonic() + 20
                while await send(node.smtp, "late@example.com") != {"late@example.com": 550}:
                    assert time.monotonic() < deadline, node.log.read_text()
                    await asyncio.sleep(0.2)

                proxy.freeze()
                await asyncio.sleep(0.5)
                started = time.monotonic()
                code = await asyncio.to_thread(node.stop, 40)
                took = time.monotonic() - started
            finally:
                node.stop(5)
            assert code == 0, node.log.read_text()
            assert took < 25, f"SIGTERM took {took:.0f} s with the store frozen"

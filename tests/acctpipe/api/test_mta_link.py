"""/v1/mta: a real MTA's queues through its management port and in-process, pause/resume."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from acctpipe.api import Services, create_app
from acctpipe.api.mtalink import HttpMtaLink, LocalMtaLink, MtaLink, MtaUnavailableError
from mta.config import parse_config_text
from mta.mgmt.app import MgmtServer, create_mgmt_app
from mta.node.runtime import Mta
from tests.acctpipe.api.fixtures import Keys
from tests.mta._mta import running_mta, send, until


def _dead_port() -> int:
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def mta(tmp_path: Path) -> AsyncIterator[Mta]:
    """An MTA whose only route refuses connections, so mail waits in a queue."""
    config = f"<domain *>\n route 127.0.0.1:{_dead_port()}\n</domain>\n"
    async with running_mta(config, tmp_path / "mta") as running:
        yield running


@pytest.fixture(params=["http", "local"])
async def link(request: pytest.FixtureRequest, mta: Mta) -> AsyncIterator[MtaLink]:
    """The MTA through its management port (HttpMtaLink) or in-process (LocalMtaLink)."""
    if request.param == "local":
        yield LocalMtaLink(mta)
        return
    server = MgmtServer(create_mgmt_app(mta, lambda: ()), "127.0.0.1", 0)
    await server.start()
    try:
        yield HttpMtaLink(server.url)
    finally:
        await server.stop()


@pytest.mark.slow
async def test_queues_status_pause_and_resume(
    link: MtaLink, mta: Mta, services: Services, keys: Keys
) -> None:
    """The API shows the MTA's queue with its backoff state and pauses/resumes it."""
    services.mta = link
    await send(mta, "a@wait.example")
    await until(lambda: any(q.queue == "wait.example" for q in mta.status().queues))
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        status = await client.get("/v1/mta/status", headers=keys.auth("read"))
        assert status.status_code == 200, status.text
        queues = (await client.get("/v1/mta/queues", headers=keys.auth("read"))).json()
        (queue,) = [q for q in queues["queues"] if q["queue"] == "wait.example"]
        assert queue["queued"] + queue["deferred"] >= 1
        assert "backoff" in queue
        denied = await client.post("/v1/mta/queues/wait.example/pause", headers=keys.auth("write"))
        assert denied.status_code == 403
        paused = await client.post("/v1/mta/queues/wait.example/pause", headers=keys.auth("admin"))
        assert paused.json()["affected"] >= 1
        assert any(q.paused for q in mta.status().queues if q.queue == "wait.example")
        resumed = await client.post(
            "/v1/mta/queues/wait.example/resume", headers=keys.auth("admin")
        )
        assert resumed.status_code == 200
        unknown = await client.post(
            "/v1/mta/queues/nowhere.example/pause", headers=keys.auth("admin")
        )
        assert unknown.status_code == 404


@pytest.mark.slow
async def test_an_unreachable_mta_is_503(services: Services, keys: Keys) -> None:
    """A management port nobody listens on answers 503 with what to check."""
    services.mta = HttpMtaLink(f"http://127.0.0.1:{_dead_port()}", timeout=2)
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get("/v1/mta/queues", headers=keys.auth("read"))
    assert response.status_code == 503
    assert "did not answer" in response.json()["detail"]


@pytest.mark.slow
async def test_the_link_presents_the_mtas_admin_key(mta: Mta) -> None:
    """With http-admin-key on the MTA, the link given http://:KEY@host:port can pause a queue,
    without the key it is refused, and the key never appears in its URL or errors."""
    key = "link-admin-key-0123456789"
    config = parse_config_text(f"http-admin-key {key}\n", "t.conf")
    app = create_mgmt_app(mta, lambda: (), get_admin_key=lambda: config.http_admin_key)
    server = MgmtServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        await send(mta, "a@wait.example")
        await until(lambda: any(q.queue == "wait.example" for q in mta.status().queues))
        keyed = HttpMtaLink(server.url.replace("http://", f"http://:{key}@"))
        assert key not in keyed.base_url
        assert ((await keyed.act("pause", "wait.example", None)).affected or 0) >= 1
        with pytest.raises(MtaUnavailableError, match="401") as refused:
            await HttpMtaLink(server.url).act("resume", "wait.example", None)
        assert key not in str(refused.value)
    finally:
        await server.stop()


@pytest.mark.slow
async def test_metrics_show_the_linked_mtas_queue_sizes(
    link: MtaLink, mta: Mta, services: Services, keys: Keys
) -> None:
    """/metrics reports each queue's size from the MTA the API is linked to, whether it
    runs in the same process (run) or behind its management port (serve --mta-url);
    the size is the messages queued, as /v1/mta/queues shows it."""
    services.mta = link
    await send(mta, "a@wait.example")
    await until(lambda: any(q.queue == "wait.example" for q in mta.status().queues))
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        text = (await client.get("/metrics", headers=keys.auth("read"))).text
    assert 'acctpipe_queue_size{queue="wait.example",vmta="default"} 1.0' in text
    assert 'acctpipe_scrape_errors{component="queues"} 0.0' in text


async def test_metrics_say_when_the_linked_mta_does_not_answer(
    services: Services, keys: Keys
) -> None:
    """With --mta-url pointing at nothing, /metrics still answers and flags the queues."""
    services.mta = HttpMtaLink(f"http://127.0.0.1:{_dead_port()}", timeout=2)
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get("/metrics", headers=keys.auth("read"))
    assert response.status_code == 200
    assert 'acctpipe_scrape_errors{component="queues"} 1.0' in response.text
    assert "acctpipe_queue_size{" not in response.text

"""MgmtServer: uvicorn on a real loopback socket, as a guest in the MTA's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from starlette.applications import Starlette

from mta.errors import ConfigError, LocalError
from mta.mgmt.app import MgmtServer, create_mgmt_app
from tests.mta.mgmt._mgmt import (
    OPS_TIMEOUT,
    TIMEOUT,
    FakeProvider,
    access,
    serving,
)


def is_listening(port: int) -> bool:
    """Does anything accept TCP connections on 127.0.0.1:port?"""
    with socket.socket() as probe:
        probe.settimeout(TIMEOUT)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_serves_over_a_real_socket_on_an_ephemeral_port() -> None:
    """Port 0 becomes a real port at start; /status answers over TCP; stop frees the port."""
    provider = FakeProvider()
    server = MgmtServer(create_mgmt_app(provider, lambda: ()), "127.0.0.1", 0)
    assert server.port == 0
    async with serving(server) as client:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        response = await client.get("/status")
        assert response.json()["host_name"] == "mx1.example.test"
        assert (await client.post("/queues/gmail.com/pause")).json()["affected"] == 2
        assert "server" not in response.headers  # no banner
    assert provider.calls == [("pause", "gmail.com", None)]
    assert not is_listening(server.port)


@pytest.mark.slow
async def test_leaves_the_mta_signal_handlers_alone() -> None:
    """uvicorn must not take SIGTERM/SIGINT from the MTA while it serves, or after."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    async with serving(MgmtServer(create_mgmt_app(FakeProvider(), lambda: ()))) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert {sig: signal.getsignal(sig) for sig in before} == before
    assert {sig: signal.getsignal(sig) for sig in before} == before


async def test_forwarded_headers_cannot_raise_a_clients_level() -> None:
    """X-Forwarded-For from a monitor client does not make it the admin address it names."""
    entries = access("http-access 127.0.0.1 monitor\nhttp-access 10.0.0.0/8 admin\n")
    provider = FakeProvider()
    async with serving(MgmtServer(create_mgmt_app(provider, lambda: entries))) as client:
        spoof = {"X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1"}
        response = await client.post("/reload", headers=spoof)
        assert response.status_code == 403
        assert "127.0.0.1" in response.json()["detail"]
    assert provider.calls == []


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "mgmt.example.test"])
def test_refuses_a_non_loopback_host_unless_allowed(host: str) -> None:
    """Binding beyond loopback is a config error unless allow_remote=True says it is meant."""
    app = create_mgmt_app(FakeProvider(), lambda: ())
    with pytest.raises(ConfigError, match="non-loopback"):
        MgmtServer(app, host, 8080)
    assert MgmtServer(app, host, 8080, allow_remote=True).host == host


@pytest.mark.parametrize(
    ("host", "url"), [("localhost", "http://127.0.0.1:0"), ("::1", "http://[::1]:0")]
)
def test_loopback_names_are_accepted(host: str, url: str) -> None:
    """localhost is served on 127.0.0.1; an IPv6 loopback URL is bracketed."""
    assert MgmtServer(create_mgmt_app(FakeProvider(), lambda: ()), host).url == url


async def test_a_port_in_use_is_a_local_error_at_start() -> None:
    """Start fails at once, with the address in the message, when the port is taken."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = MgmtServer(create_mgmt_app(FakeProvider(), lambda: ()), "127.0.0.1", port)
        with pytest.raises(LocalError, match=f"127.0.0.1:{port}"):
            await asyncio.wait_for(server.start(), OPS_TIMEOUT)
        await asyncio.wait_for(server.stop(), OPS_TIMEOUT)  # harmless when never started


def failing_lifespan(message: str) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """A Starlette lifespan whose startup raises ``message`` (when not empty)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if message:
            raise RuntimeError(message)
        yield

    return lifespan


async def test_an_app_that_fails_to_start_raises_instead_of_exiting() -> None:
    """A failing lifespan startup is a LocalError from start(), not SystemExit of the MTA."""
    server = MgmtServer(Starlette(lifespan=failing_lifespan("cannot start")))
    with pytest.raises(LocalError, match="failed to start"):
        await asyncio.wait_for(server.start(), OPS_TIMEOUT)
    assert not is_listening(server.port)


async def test_start_twice_is_refused_and_stop_twice_is_harmless() -> None:
    """A running server cannot be started again; stopping it again does nothing."""
    server = MgmtServer(create_mgmt_app(FakeProvider(), lambda: ()))
    async with serving(server):
        with pytest.raises(LocalError, match="already started"):
            await asyncio.wait_for(server.start(), OPS_TIMEOUT)
    await asyncio.wait_for(server.stop(), OPS_TIMEOUT)


def test_listening_socket_is_tcp_by_protocol_so_connections_get_nodelay() -> None:
    """The socket names IPPROTO_TCP: asyncio then sets TCP_NODELAY on each connection
    (without it, a kept-alive request waited ~40 ms for the client's delayed ACK)."""
    server = MgmtServer(create_mgmt_app(FakeProvider(), lambda: ()), "127.0.0.1", 0)
    sock = server._bind()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()

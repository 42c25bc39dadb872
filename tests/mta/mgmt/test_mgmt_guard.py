"""The management port against browsers: DNS rebinding, cross-site posts, the admin key."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.config import parse_config_text
from mta.errors import InvalidConfigError
from mta.mgmt.app import MgmtServer, create_mgmt_app
from mta.mgmt.guard import host_name, is_allowed_host
from tests.mta.mgmt._mgmt import (
    FakeProvider,
    serving,
)

KEY = "correct-horse-battery-staple"
CONFIG = f"""\
http-mgmt-host-names mta.internal.example, Status.Example
http-admin-key {KEY}
"""


def _server(provider: FakeProvider, text: str = "") -> MgmtServer:
    config = parse_config_text(text, "t.conf")
    app = create_mgmt_app(
        provider,
        lambda: config.http_access,
        get_host_names=lambda: config.http_mgmt_host_names,
        get_admin_key=lambda: config.http_admin_key,
    )
    return MgmtServer(app, "127.0.0.1", 0)


@pytest.fixture
async def plain() -> AsyncIterator[tuple[httpx.AsyncClient, FakeProvider, int]]:
    """A management port over a real loopback socket, no host names or key configured."""
    provider = FakeProvider()
    server = _server(provider)
    async with serving(server) as client:
        yield client, provider, server.port


async def test_a_rebound_dns_name_is_refused(
    plain: tuple[httpx.AsyncClient, FakeProvider, int],
) -> None:
    """A page whose DNS name was rebound to 127.0.0.1 reaches the port under its own name:
    421, for reads and actions alike, and the MTA is not touched."""
    client, provider, port = plain
    for method, path in (("GET", "/status"), ("POST", "/queues/gmail.com/pause")):
        response = await client.request(method, path, headers={"Host": f"evil.example:{port}"})
        assert response.status_code == 421, method
        assert response.headers["content-type"] == "application/problem+json"
        assert "http-mgmt-host-names" in response.json()["detail"]
    assert provider.calls == []
    for host in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", "LOCALHOST"):
        assert (await client.get("/status", headers={"Host": host})).status_code == 200, host


async def test_configured_host_names_are_answered() -> None:
    """Names listed in http-mgmt-host-names are accepted (any case); others still get 421."""
    server = _server(FakeProvider(), CONFIG)
    async with serving(server) as client:
        for host in ("mta.internal.example", f"STATUS.example:{server.port}"):
            assert (await client.get("/status", headers={"Host": host})).status_code == 200
        refused = await client.get("/status", headers={"Host": "other.example"})
        assert refused.status_code == 421


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost:1", "Sec-Fetch-Site": "same-origin"},
    ],
)
async def test_a_cross_site_post_changes_nothing(
    plain: tuple[httpx.AsyncClient, FakeProvider, int], headers: dict[str, str]
) -> None:
    """A form or fetch from another site (or a sandboxed frame, Origin: null) cannot pause
    a queue or reload the config: 403, and the MTA never hears of it."""
    client, provider, _ = plain
    for path in ("/queues/gmail.com/pause", "/reload"):
        response = await client.post(path, headers=headers)
        assert response.status_code == 403, path
    assert provider.calls == []


async def test_same_origin_and_non_browser_posts_still_act(
    plain: tuple[httpx.AsyncClient, FakeProvider, int],
) -> None:
    """curl (no Origin), and a page served by the port itself, may still act."""
    client, provider, port = plain
    assert (await client.post("/queues/gmail.com/pause")).status_code == 200
    same = {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/queues/gmail.com/resume", headers=same)).status_code == 200
    assert [c[0] for c in provider.calls] == ["pause", "resume"]


async def test_admin_actions_need_the_admin_key() -> None:
    """With http-admin-key set, an action without the key (or with another) is 401 with a
    challenge; the key as a bearer token or a Basic password works; reads need no key."""
    provider = FakeProvider()
    server = _server(provider, CONFIG)
    async with serving(server) as client:
        assert (await client.get("/status")).status_code == 200
        for auth in (None, "Bearer wrong-key-wrong-key", f"Basic {KEY}", f"Token {KEY}"):
            headers = {"Authorization": auth} if auth else {}
            response = await client.post("/queues/gmail.com/pause", headers=headers)
            assert response.status_code == 401, auth
            assert response.headers["www-authenticate"].startswith("Basic")
        assert provider.calls == []
        bearer = {"Authorization": f"Bearer {KEY}"}
        assert (await client.post("/queues/gmail.com/pause", headers=bearer)).status_code == 200
        basic = httpx.BasicAuth("ops", KEY)
        assert (await client.post("/reload", auth=basic)).status_code == 200
    assert [c[0] for c in provider.calls] == ["pause", "reload"]


def test_the_admin_key_is_kept_as_a_digest() -> None:
    """The config keeps only the key's SHA-256; sha256:HEX is accepted; a short key is refused
    with the file and line."""
    digest = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()
    assert parse_config_text(CONFIG, "t.conf").http_admin_key == digest
    shouted = "SHA256:" + digest[7:].upper()
    given_digest = parse_config_text(f"http-admin-key {shouted}\n", "t.conf")
    assert given_digest.http_admin_key == digest
    with pytest.raises(InvalidConfigError, match=r"t\.conf:2"):
        parse_config_text("host-name a.example\nhttp-admin-key short\n", "t.conf")
    with pytest.raises(InvalidConfigError, match="not a host name"):
        parse_config_text("http-mgmt-host-names evil@example\n", "t.conf")


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdelmnotx.:[]@1270-", min_size=1, max_size=20))
def test_only_our_own_names_pass_the_host_check(host: str) -> None:
    """Whatever a Host header says, it passes only when its name is localhost, the address
    connected to, or a configured name."""
    if is_allowed_host(host, "127.0.0.1", ("mta.example",)):
        name = host_name(host)
        assert name is not None
        if name not in ("localhost", "mta.example"):
            assert ipaddress.ip_address(name) in (
                ipaddress.ip_address("127.0.0.1"),
                ipaddress.ip_address("::ffff:127.0.0.1"),
            )

"""API keys: hashed at rest, scoped, revocable, rate-limited; health needs none."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest
from sqlalchemy import event, select

from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.api._ratelimit import FailureLimiter, RateLimiter
from acctpipe.sqlstore.schema import api_keys
from tests.acctpipe.api.fixtures import Keys


async def test_health_and_readiness_need_no_key(client: httpx.AsyncClient) -> None:
    """/healthz and /readyz answer without a key; readiness lists its components."""
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["components"]["sql"]["ok"] is True


@pytest.mark.slow
async def test_every_other_endpoint_needs_a_key(client: httpx.AsyncClient) -> None:
    """Without a key: 401 problem+json with WWW-Authenticate, naming how to get one."""
    for path in ("/v1/suppressions", "/metrics", "/openapi.json", "/docs", "/v1/throttles"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "acctpipe apikey create" in response.json()["detail"]


async def test_keys_are_stored_as_digests_only(services: Services) -> None:
    """The plaintext key is never stored: only its SHA-256 digest and public id."""
    key, plaintext = services.keys.create("crm", "write")
    with services.engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key.key_id)).one()
    assert row.secret_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in repr(tuple(row))
    found = services.keys.authenticate(plaintext)
    assert found is not None
    assert found.key_id == key.key_id


async def test_wrong_malformed_and_revoked_keys_are_refused(
    client: httpx.AsyncClient, services: Services, keys: Keys
) -> None:
    """A key with one character changed, garbage, or a revoked key: 401."""
    bad = keys.read[:-1] + ("A" if keys.read[-1] != "A" else "B")
    for token in (bad, "nonsense", "acp_x_y", ""):
        response = await client.get("/v1/suppressions", headers={"X-API-Key": token})
        assert response.status_code == 401, token
    key_id = keys.read.split("_")[1]
    assert services.keys.revoke(key_id)
    response = await client.get("/v1/suppressions", headers=keys.auth("read"))
    assert response.status_code == 401
    assert (await client.get("/v1/suppressions", headers=keys.auth("write"))).status_code == 200


@pytest.mark.slow
async def test_scopes_are_ordered(client: httpx.AsyncClient, keys: Keys) -> None:
    """read may read; write may also add; only admin may steer throttles."""
    body = {"address": "a@example.com"}
    assert (
        await client.post("/v1/suppressions", json=body, headers=keys.auth("read"))
    ).status_code == 403
    assert (
        await client.post("/v1/suppressions", json=body, headers=keys.auth("write"))
    ).status_code == 201
    throttle = {"queue": "example.com", "action": "pause"}
    denied = await client.post("/v1/throttles", json=throttle, headers=keys.auth("write"))
    assert denied.status_code == 403
    assert "admin" in denied.json()["detail"]
    allowed = await client.post("/v1/throttles", json=throttle, headers=keys.auth("admin"))
    assert allowed.status_code == 201


@pytest.mark.slow
async def test_rate_limit_per_key(client: httpx.AsyncClient, services: Services) -> None:
    """A key over its rate gets 429 with Retry-After; another key is unaffected."""
    _, slow = services.keys.create("slow", "read", rate_limit=60)
    headers = {"Authorization": f"Bearer {slow}"}
    statuses = [(await client.get("/v1/throttles", headers=headers)).status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429
    limited = await client.get("/v1/throttles", headers=headers)
    assert int(limited.headers["retry-after"]) >= 1
    _, other = services.keys.create("other", "read", rate_limit=60)
    ok = await client.get("/v1/throttles", headers={"Authorization": f"Bearer {other}"})
    assert ok.status_code == 200


def test_token_bucket_refills_at_the_rate() -> None:
    """60/min: a burst of 10, then one more request per second."""
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert all(limiter.take("k", 60) == 0 for _ in range(10))
    assert limiter.take("k", 60) > 0
    now[0] += 1.0
    assert limiter.take("k", 60) == 0
    assert limiter.take("k", 60) > 0


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    """A sane X-Request-ID comes back; otherwise the response carries a new one."""
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32


async def test_access_log_never_holds_the_key(
    client: httpx.AsyncClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """The access log has the key's public id, never the key itself."""
    with caplog.at_level(logging.INFO, logger="acctpipe.api.access"):
        await client.get("/v1/suppressions?scope=global", headers=keys.auth("read"))
    text = caplog.text
    assert keys.read.split("_")[1] in text
    assert keys.read not in text
    assert "scope=global" not in text


def test_store_refuses_bad_input(services: Services) -> None:
    """A key needs a name and a known scope."""
    store: ApiKeyStore = services.keys
    with pytest.raises(ValueError, match="name"):
        store.create("  ", "read")
    with pytest.raises(ValueError, match="scope"):
        store.create("x", "root")  # type: ignore[arg-type]


@pytest.mark.slow
async def test_a_stream_of_bogus_keys_is_throttled_per_address(
    client: httpx.AsyncClient, services: Services
) -> None:
    """300 made-up keys from one address: after a short burst the address gets 429 with
    Retry-After, and those requests no longer reach the key table."""
    lookups = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "api_keys" in statement:
            lookups.append(statement)

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        statuses = [
            (await client.get("/v1/suppressions", headers={"X-API-Key": f"acp_bogus_{i}"}))
            for i in range(300)
        ]
    finally:
        event.remove(services.engine, "before_cursor_execute", count)
    codes = [r.status_code for r in statuses]
    assert codes[0] == 401
    assert codes.count(401) <= 12
    assert codes[-1] == 429
    assert int(statuses[-1].headers["retry-after"]) >= 1
    assert statuses[-1].headers["content-type"] == "application/problem+json"
    assert len(lookups) <= 12


def test_failed_authentications_use_bounded_memory() -> None:
    """Failures from ever new addresses never make the limiter remember more than its cap."""
    limiter = FailureLimiter(30, max_clients=100)
    for i in range(1000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    for _ in range(10):
        limiter.failed("192.0.2.1")
    assert limiter.wait("192.0.2.1") > 0
    assert limiter.wait("192.0.2.2") == 0


@pytest.mark.slow
async def test_the_failure_budget_is_a_setting(services: Services) -> None:
    """ApiSettings.auth_failures_per_minute sets how many bad keys an address may try."""
    services.settings = ApiSettings(auth_failures_per_minute=600, key_cache_seconds=0)
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        codes = {
            (await client.get("/v1/suppressions", headers={"X-API-Key": f"acp_x_{i}"})).status_code
            for i in range(50)
        }
    assert codes == {401}


async def test_a_good_key_keeps_working_beside_a_key_guesser(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Behind one address (NAT), a key that worked keeps working while another user of the
    address is limited for guessing keys."""
    good = keys.auth("read")
    assert (await client.get("/v1/suppressions", headers=good)).status_code == 200
    for i in range(30):
        await client.get("/v1/suppressions", headers={"X-API-Key": f"acp_guess_{i}"})
    limited = await client.get("/v1/suppressions", headers={"X-API-Key": "acp_guess_last"})
    assert limited.status_code == 429
    assert (await client.get("/v1/suppressions", headers=good)).status_code == 200


def test_an_ipv6_client_gets_one_failure_budget_for_its_64() -> None:
    """Bad keys from ever new addresses of one IPv6 /64 share one budget (a client can use
    any address of its /64); another /64 has its own."""
    limiter = FailureLimiter(30)
    for host in range(1, 12):
        limiter.failed(f"2001:db8:5:6::{host:x}")
    assert limiter.wait("2001:db8:5:6:aaaa::1") > 0
    assert limiter.wait("2001:db8:5:7::1") == 0

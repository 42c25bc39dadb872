"""Limits that keep one client from hurting the others, and errors that leak nothing."""

from __future__ import annotations

import threading
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from acctpipe.api import Services, create_app
from tests.acctpipe.api.fixtures import Keys


async def test_bulk_body_over_the_limit_is_413(services: Services, keys: Keys) -> None:
    """A bulk body over bulk_max_bytes is refused with 413, and nothing is applied."""
    services.settings = replace(services.settings, bulk_max_bytes=1000)
    transport = httpx.ASGITransport(app=create_app(services))
    body = "".join(f"u{i}@example.com\n" for i in range(200))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.post(
            "/v1/suppressions/bulk",
            content=body,
            headers={**keys.auth("write"), "Content-Type": "text/plain"},
        )
    assert response.status_code == 413
    assert services.suppressions.count() == 0


@pytest.mark.slow
async def test_sql_queries_beyond_the_slots_get_429(
    app: FastAPI, services: Services, keys: Keys
) -> None:
    """With every query slot taken, another SQL request answers 429 with Retry-After."""
    slots = services.query_slots
    assert isinstance(slots, threading.BoundedSemaphore)
    taken = [slots.acquire(blocking=False) for _ in range(services.settings.sql_concurrency)]
    assert all(taken)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            response = await client.post(
                "/v1/sql", json={"sql": "SELECT 1"}, headers=keys.auth("read")
            )
    finally:
        for _ in taken:
            slots.release()
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


async def test_readiness_never_shows_error_text(
    client: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing component is reported without its error text (it may name hosts and users)."""

    def broken() -> str | None:
        raise OperationalError("SELECT 1", {}, Exception("password for user admin@db.internal"))

    services.checks["sql-replica"] = broken
    response = await client.get("/readyz")
    assert response.status_code == 503
    detail = response.json()["components"]["sql-replica"]["detail"]
    assert "db.internal" not in detail
    assert "server log" in detail


@pytest.mark.slow
async def test_login_from_another_site_is_refused(client: httpx.AsyncClient, keys: Keys) -> None:
    """A login form posted from another origin is refused (no login CSRF)."""
    response = await client.post(
        "/login",
        content=f"key={keys.read}",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
        },
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    cross = await client.post(
        "/login",
        content=f"key={keys.read}",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "null",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert cross.status_code == 403


@pytest.mark.slow
async def test_login_needs_proof_that_the_form_is_ours(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """A login is accepted only with Sec-Fetch-Site: same-origin or an Origin naming this host;
    Origin: null alone (what a sandboxed frame on any site sends) or no header is refused."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refused: tuple[dict[str, str], ...] = (
        {},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "file://api.test"},
    )
    for extra in refused:
        response = await client.post("/login", content=f"key={keys.read}", headers=form | extra)
        assert response.status_code == 403, extra
        assert "set-cookie" not in response.headers
    accepted = (
        {"Origin": "http://api.test"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    for extra in accepted:
        response = await client.post("/login", content=f"key={keys.read}", headers=form | extra)
        assert response.status_code == 303, extra


@pytest.mark.slow
async def test_logout_only_from_our_own_page(client: httpx.AsyncClient) -> None:
    """Another site cannot log a user out: a cross-site or header-less POST /logout is 403,
    and /logout takes no GET."""
    for extra in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        response = await client.post("/logout", headers=extra)
        assert response.status_code == 403, extra
        assert "set-cookie" not in response.headers
    assert (await client.get("/logout")).status_code == 405
    ours = await client.post("/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 303


@pytest.mark.slow
async def test_login_attempts_are_rate_limited(client: httpx.AsyncClient) -> None:
    """Guessing keys at /login is limited per client address."""
    statuses = []
    for _ in range(15):
        response = await client.post(
            "/login",
            content="key=acp_nope",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Sec-Fetch-Site": "same-origin",
            },
        )
        statuses.append(response.status_code)
    assert statuses[0] == 401
    assert statuses[-1] == 429

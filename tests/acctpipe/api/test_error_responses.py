"""Every response, a 500 included, is problem+json with a request id."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from acctpipe.api import Services
from acctpipe.errors import SqlStoreUnavailableError
from tests.acctpipe.api.fixtures import Keys


async def test_database_down_is_a_problem_with_request_id(
    app: FastAPI, services: Services, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the SQL store is unreachable the answer is 503 problem+json with X-Request-ID."""

    def down(*_args: object, **_kwargs: object) -> None:
        raise SqlStoreUnavailableError("the SQL store is unavailable", path="postgresql://db")

    monkeypatch.setattr(services.suppressions, "page", down)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get(
            "/v1/suppressions", headers={**keys.auth("read"), "X-Request-ID": "req-1"}
        )
    assert response.headers.get("x-request-id") == "req-1"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.status_code == 503

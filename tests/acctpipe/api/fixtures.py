"""Fixtures for the HTTP API: an app on a real SQLite/PostgreSQL store, keys, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore


@dataclass(frozen=True)
class Keys:
    """One plaintext key per scope."""

    read: str
    write: str
    admin: str

    def auth(self, scope: str) -> dict[str, str]:
        """The Authorization header for the key of ``scope``."""
        return {"Authorization": f"Bearer {getattr(self, scope)}"}


@pytest.fixture
def settings() -> ApiSettings:
    """Fast settings for tests (short polls, small bulk batches)."""
    return ApiSettings(feed_poll_interval=0.02, bulk_batch=500, key_cache_seconds=0)


@pytest.fixture
def services(engine: Engine, settings: ApiSettings) -> Services:
    """The stores on the test database."""
    return Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=settings,
    )


@pytest.fixture
def app(services: Services) -> FastAPI:
    """The API app."""
    return create_app(services)


@pytest.fixture
def keys(services: Services) -> Keys:
    """A read, a write and an admin key."""
    store = services.keys
    return Keys(
        read=store.create("reader", "read")[1],
        write=store.create("writer", "write")[1],
        admin=store.create("admin", "admin")[1],
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (ASGI)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        yield c

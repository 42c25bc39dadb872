"""Fixtures for ESP intake: an API app on a real SQLite store with an ESP directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.esp import EspIntake, EspSettings
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from tests.acctpipe.esp._signing import CertServer, cert_server


@pytest.fixture
def served() -> Iterator[CertServer]:
    """The loopback server of our signing certificate."""
    with cert_server() as server:
        yield server


@pytest.fixture
def esp_settings(tmp_path: Path) -> EspSettings:
    """ESP intake into ``tmp_path/acct``, trusting certificates served from 127.0.0.1."""
    return EspSettings(directory=tmp_path / "acct", sns_cert_hosts=("127.0.0.1",))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The stores on a migrated SQLite file (no ESP intake yet)."""
    engine = open_database(f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=ApiSettings(key_cache_seconds=0),
    )
    engine.dispose()


@pytest.fixture
def write_key(services: Services) -> str:
    """A write-scoped key."""
    return services.keys.create("ses", "write")[1]


@pytest.fixture
def read_key(services: Services) -> str:
    """A read-scoped key."""
    return services.keys.create("reader", "read")[1]


class Api:
    """The app with an :class:`EspIntake` built from settings; ``client()`` talks to it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.app: FastAPI | None = None

    def start(self, settings: EspSettings, **changes: object) -> EspIntake:
        intake = EspIntake(replace(settings, **changes))  # type: ignore[arg-type]
        self.services.esp = intake
        self.app = create_app(self.services)
        return intake

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        assert self.app is not None
        transport = httpx.ASGITransport(app=self.app)
        auth = ("sns", key) if key else None
        return httpx.AsyncClient(transport=transport, base_url="http://api.test", auth=auth)


@pytest.fixture
async def api(services: Services) -> AsyncIterator[Api]:
    """An :class:`Api`; its intake is closed afterwards."""
    made = Api(services)
    yield made
    if services.esp is not None:
        await services.esp.aclose()

"""What the management tests share: a fake MTA behind the app, requests, problem checks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI

from mta.config import parse_config_text
from mta.config.model import HttpAccess
from mta.mgmt.app import MgmtServer, create_mgmt_app
from mta.status import ListenerStatus, MtaStatus, QueueStatus

TIMEOUT = 10.0  # seconds; in-process requests take milliseconds, this only stops a hang
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    421: "Misdirected Request",
    422: "Unprocessable Content",  # RFC 9110's name, whatever the Python version
    503: "Service Unavailable",
}


def queue(name: str, vmta: str, queued: int, **kw: Any) -> QueueStatus:
    """A queue snapshot with quiet defaults."""
    fields: dict[str, Any] = {
        "deferred": 0,
        "connections": 0,
        "max_smtp_out": 20,
        "msg_rate": 10.0,
        "configured_msg_rate": 10.0,
        "delivered": 0,
        "bounced": 0,
        "transient_failures": 0,
        "backoff": False,
        "backoff_until": None,
        "paused": False,
    } | kw
    return QueueStatus(queue=name, vmta=vmta, queued=queued, **fields)


QUEUES = (
    queue("gmail.com", "vmta-a", 40, deferred=3, connections=2, delivered=900, bounced=4),
    queue("gmail.com", "vmta-b", 5, paused=True),
    queue(
        "yahoo.com",
        "vmta-a",
        100,
        deferred=100,
        msg_rate=1.0,
        backoff=True,
        backoff_until=datetime(2024, 5, 2, 15, 30, tzinfo=CEST),
        transient_failures=12,
        last_reply="421 4.7.0 [TSS04] Messages temporarily deferred",
    ),
    queue("hotmail.com", "vmta-b", 0, msg_rate=float("inf"), configured_msg_rate=float("inf")),
)
SNAPSHOT = MtaStatus(
    host_name="mx1.example.test",
    started_at=T0,
    now=T0 + timedelta(days=1, hours=2, minutes=3, seconds=4),
    config_files=("/etc/acctpipe/mta.conf",),
    config_loaded_at=T0 + timedelta(minutes=5),
    spool={"incoming": 7, "active": 2, "deferred": 103},
    listeners=(ListenerStatus("127.0.0.1", 2525, 1, 1000, 3),),
    queues=QUEUES,
    totals={"delivered": 900, "bounced": 4, "deferred": 103},
)


class FakeProvider:
    """A StatusProvider with a canned snapshot that records what it was asked to do."""

    def __init__(self, snapshot: MtaStatus = SNAPSHOT, reload_error: Exception | None = None):
        self.snapshot = snapshot
        self.reload_error = reload_error
        self.calls: list[tuple[str, str, str | None]] = []

    def status(self) -> MtaStatus:
        """The canned snapshot."""
        return self.snapshot

    def _count(self, queue: str, vmta: str | None) -> int:
        return sum(q.queue == queue and vmta in (None, q.vmta) for q in self.snapshot.queues)

    def pause(self, queue: str, vmta: str | None = None) -> int:
        """Record the call; 'pause' every matching queue."""
        self.calls.append(("pause", queue, vmta))
        return self._count(queue, vmta)

    def resume(self, queue: str, vmta: str | None = None) -> int:
        """Record the call; 'resume' every matching queue."""
        self.calls.append(("resume", queue, vmta))
        return self._count(queue, vmta)

    def reload(self) -> str:
        """Record the call; fail with the configured error, if any."""
        self.calls.append(("reload", "", None))
        if self.reload_error is not None:
            raise self.reload_error
        return "configuration reloaded from /etc/acctpipe/mta.conf"


def access(text: str) -> tuple[HttpAccess, ...]:
    """The http-access entries of a config text."""
    return parse_config_text(text, "t.conf").http_access


async def call(
    app: FastAPI, method: str, url: str, *, ip: str = "127.0.0.1", **kw: Any
) -> httpx.Response:
    """One request to ``app`` in-process, as if from ``ip``."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://mgmt") as client:
        return await asyncio.wait_for(client.request(method, url, **kw), TIMEOUT)


def app_for(provider: FakeProvider | None = None, entries: str = "") -> FastAPI:
    """A management app over ``provider`` with the http-access lines of ``entries``."""
    allowed = access(entries)
    return create_mgmt_app(provider or FakeProvider(), lambda: allowed)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] == TITLES[status]
    assert body["detail"]
    return body


OPS_TIMEOUT = 20.0  # seconds for start/stop on a loaded machine; only stops a hang


@contextlib.asynccontextmanager
async def serving(server: MgmtServer) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``server``, yield a real HTTP client for it, always stop it."""
    await asyncio.wait_for(server.start(), OPS_TIMEOUT)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
            yield client
    finally:
        await asyncio.wait_for(server.stop(), OPS_TIMEOUT)

"""The change feed over HTTP: cursor order, tombstones, long-poll, SSE, resync on 410.

The consistency test runs a real server on loopback with writers in threads
(SQLite and PostgreSQL): a client following ``next_cursor`` sees every change
exactly once, in commit order.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from acctpipe.api import Services
from mta.mgmt.app import MgmtServer
from tests.acctpipe.api.fixtures import Keys


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a real socket); yields its base URL."""
    served = MgmtServer(app, "127.0.0.1", 0)
    await served.start()
    try:
        yield served.url
    finally:
        await served.stop()


async def test_feed_carries_adds_updates_and_removals(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """Each change appears once, in cursor order; removals are tombstones."""
    s = services.suppressions
    s.add("a@example.com")
    s.add("a@example.com", reason="complaint")
    s.remove("a@example.com")
    page = (await client.get("/v1/suppressions/changes?cursor=0", headers=keys.auth("read"))).json()
    assert [(c["op"], c["tombstone"]) for c in page["changes"]] == [
        ("add", False),
        ("update", False),
        ("remove", True),
    ]
    assert page["next_cursor"] == page["changes"][-1]["cursor"]
    assert page["has_more"] is False
    empty = await client.get(
        f"/v1/suppressions/changes?cursor={page['next_cursor']}", headers=keys.auth("read")
    )
    assert empty.json() == {"changes": [], "next_cursor": page["next_cursor"], "has_more": False}


@pytest.mark.slow
async def test_limit_and_has_more(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """A full page says has_more; the next page starts after it."""
    for i in range(5):
        services.suppressions.add(f"u{i}@example.com")
    first = (await client.get("/v1/suppressions/changes?limit=3", headers=keys.auth("read"))).json()
    assert len(first["changes"]) == 3
    assert first["has_more"] is True
    rest = (
        await client.get(
            f"/v1/suppressions/changes?cursor={first['next_cursor']}", headers=keys.auth("read")
        )
    ).json()
    assert [c["address"] for c in rest["changes"]] == ["u3@example.com", "u4@example.com"]


async def test_cursor_ahead_of_the_log_is_gone(client: httpx.AsyncClient, keys: Keys) -> None:
    """A cursor past the newest change (a restored store) answers 410: resync."""
    response = await client.get("/v1/suppressions/changes?cursor=99", headers=keys.auth("read"))
    assert response.status_code == 410
    assert "resync" in response.json()["detail"]


async def test_long_poll_returns_when_a_change_commits(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """With wait=, an empty feed answers as soon as a change commits."""

    async def later() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(services.suppressions.add, "late@example.com")

    task = asyncio.create_task(later())
    page = (
        await client.get("/v1/suppressions/changes?cursor=0&wait=20", headers=keys.auth("read"))
    ).json()
    await task
    assert [c["address"] for c in page["changes"]] == ["late@example.com"]


async def test_long_poll_times_out_empty(client: httpx.AsyncClient, keys: Keys) -> None:
    """With nothing new, a long-poll answers an empty page after its wait."""
    page = (
        await client.get("/v1/suppressions/changes?cursor=0&wait=0.1", headers=keys.auth("read"))
    ).json()
    assert page == {"changes": [], "next_cursor": 0, "has_more": False}


@pytest.mark.slow
async def test_concurrent_writers_a_following_client_sees_each_change_once(
    server: str, keys: Keys, services: Services
) -> None:
    """Four writers add and remove at once; the HTTP reader sees every change exactly once."""
    store = services.suppressions
    pool = [f"user{i}@example.com" for i in range(20)]
    written: list[int] = []
    lock = threading.Lock()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(30):
            address = rng.choice(pool)
            change = (
                store.remove(address)
                if rng.random() < 0.4
                else store.add(address, reason=rng.choice(["manual", "complaint"]))
            )
            if change is not None:
                with lock:
                    written.append(change.cursor)

    writers = [asyncio.to_thread(write, seed) for seed in range(4)]
    seen: list[int] = []
    async with httpx.AsyncClient(base_url=server, headers=keys.auth("read"), timeout=10) as http:

        async def follow(stop: asyncio.Event) -> None:
            cursor = 0
            while True:
                page = (
                    await http.get(f"/v1/suppressions/changes?cursor={cursor}&limit=7&wait=0.05")
                ).json()
                seen.extend(c["cursor"] for c in page["changes"])
                cursor = page["next_cursor"]
                if stop.is_set() and not page["changes"]:
                    return

        stop = asyncio.Event()
        reader = asyncio.create_task(follow(stop))
        await asyncio.gather(*writers)
        stop.set()
        await asyncio.wait_for(reader, 30)
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(written)


@pytest.mark.slow
async def test_sse_stream_replays_then_follows(server: str, keys: Keys, services: Services) -> None:
    """The SSE stream sends past changes, then new ones; ids are cursors; Last-Event-ID resumes."""
    services.suppressions.add("one@example.com")
    events: list[dict[str, object]] = []
    ids: list[int] = []
    async with httpx.AsyncClient(base_url=server, headers=keys.auth("read"), timeout=10) as http:

        async def read(headers: dict[str, str], want: int) -> None:
            async with http.stream("GET", "/v1/suppressions/changes/stream", headers=headers) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                async for line in r.aiter_lines():
                    if line.startswith("id: "):
                        ids.append(int(line[4:]))
                    elif line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if len(events) >= want:
                            return

        task = asyncio.create_task(read({}, 2))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(services.suppressions.add, "two@example.com")
        await asyncio.wait_for(task, 10)
        assert [e["address"] for e in events] == ["one@example.com", "two@example.com"]
        await asyncio.to_thread(services.suppressions.remove, "one@example.com")
        await asyncio.wait_for(read({"Last-Event-ID": str(ids[-1])}, 3), 10)
    assert events[-1]["op"] == "remove"
    assert events[-1]["tombstone"] is True
    assert ids == sorted(ids)


@pytest.mark.slow
async def test_sse_stream_ends_when_its_key_is_revoked(
    server: str, keys: Keys, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An open stream re-checks its key: once revoked, it says so and ends."""
    from acctpipe.api import routes_changes

    monkeypatch.setattr(routes_changes, "_RECHECK", 0.1)
    lines: list[str] = []
    async with (
        httpx.AsyncClient(base_url=server, headers=keys.auth("read"), timeout=10) as http,
        http.stream("GET", "/v1/suppressions/changes/stream") as response,
    ):
        services.keys.revoke(keys.read.split("_")[1])
        async for line in response.aiter_lines():
            lines.append(line)
    assert "event: error" in lines

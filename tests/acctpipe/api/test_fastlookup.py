"""The fast lookup path: the route's bytes for what it answers, the route for everything else."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.api.auth import Authenticator
from acctpipe.errors import SqlStoreUnavailableError
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def cached_services(engine: Engine) -> Services:
    """Services with the key cache on (the test fixtures turn it off), rate 600/min."""
    services = Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=ApiSettings(key_cache_seconds=60, rate_limit=600),
    )
    services.suppressions.add("hit@example.com", reason="complaint", event_ids=["e1"])
    services.suppressions.add("hit@example.com", scope="list:news", reason="manual")
    services.suppressions.add(
        "gone@example.com", expires_at=datetime.now(UTC) - timedelta(days=1), reason="manual"
    )
    return services


@pytest.fixture
def fast_app(cached_services: Services) -> FastAPI:
    """The app over ``cached_services``."""
    return create_app(cached_services)


@pytest.fixture
async def api(fast_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``fast_app`` (in-process)."""
    transport = httpx.ASGITransport(app=fast_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        yield c


def _routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route of ``app``, through its included routers."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    found = []
    for route in walk(app.routes) if walk is not None else app.routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if isinstance(path, str):
            found.append((path, set(methods or ())))
    return found


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the fast path answered in this test."""
    from acctpipe.api import fastlookup

    seen: list[str] = []
    original = fastlookup.FastLookup._answer

    async def spy(self: fastlookup.FastLookup, scope: dict[str, object], send: object) -> bool:
        done: bool = await original(self, scope, send)  # type: ignore[arg-type]
        if done:
            seen.append(str(scope["path"]))
        return done

    monkeypatch.setattr(fastlookup.FastLookup, "_answer", spy)
    return seen


async def test_answers_are_the_routes_bytes(
    api: httpx.AsyncClient, cached_services: Services, fast_app: FastAPI, answered: list[str]
) -> None:
    """Hit, miss, expired, a non-canonical spelling: the same status, headers and body the
    route sends (with the key cache emptied, the route answers and verifies the key; the
    next request is answered here)."""
    _, key = cached_services.keys.create("backend", "read")
    auth: Authenticator = fast_app.state.authenticator
    for address in ("hit@example.com", "HIT@Example.COM", "nobody@example.com", "gone@example.com"):
        path = f"/v1/suppressions/{address}"
        auth._cache.clear()
        slow = await api.get(path, headers=_bearer(key))
        fast = await api.get(path, headers=_bearer(key))
        assert answered.count(path) == 1, answered
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
        drop = {"x-request-id"}
        assert [h for h in fast.headers.items() if h[0] not in drop] == [
            h for h in slow.headers.items() if h[0] not in drop
        ]
        assert fast.headers["x-request-id"]
    assert (await api.get("/v1/suppressions/hit@example.com", headers=_bearer(key))).json()[
        "suppressed"
    ] is True


async def test_x_api_key_is_fast_too_and_the_access_log_names_the_key(
    api: httpx.AsyncClient,
    cached_services: Services,
    answered: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key sent as X-API-Key is honoured; the access log line carries its public id."""
    stored, key = cached_services.keys.create("backend", "read")
    headers = {"X-API-Key": key}
    await api.get("/v1/suppressions/hit@example.com", headers=headers)
    with caplog.at_level(logging.INFO, logger="acctpipe.api.access"):
        response = await api.get("/v1/suppressions/hit@example.com", headers=headers)
    assert response.status_code == 200
    assert answered == ["/v1/suppressions/hit@example.com"]
    (line,) = [json.loads(r.getMessage()) for r in caplog.records]
    assert line["key_id"] == stored.key_id
    assert line["status"] == 200
    assert key not in caplog.text


async def test_everything_unusual_goes_to_the_route(
    api: httpx.AsyncClient, cached_services: Services, answered: list[str]
) -> None:
    """No key, a wrong key, a cookie, a query string, a non-address, the other routes under
    the prefix: answered by the route (401, 422, ...), never here."""
    _, key = cached_services.keys.create("backend", "read")
    assert (await api.get("/v1/suppressions/hit@example.com", headers=_bearer(key))).is_success
    assert (await api.get("/v1/suppressions/hit@example.com")).status_code == 401
    wrong = _bearer(key[:-4] + "AAAA")
    assert (await api.get("/v1/suppressions/hit@example.com", headers=wrong)).status_code == 401
    cookie = {"Cookie": f"acctpipe_key={key}"}
    assert (await api.get("/v1/suppressions/hit@example.com", headers=cookie)).is_success
    scoped = await api.get(
        "/v1/suppressions/hit@example.com", params={"list": "news"}, headers=_bearer(key)
    )
    assert scoped.json()["applies"]["scope"] == "global"  # global comes first
    bad = await api.get("/v1/suppressions/no-at-sign", headers=_bearer(key))
    assert bad.status_code == 422
    changes = await api.get("/v1/suppressions/changes", headers=_bearer(key))
    assert "changes" in changes.json()
    export = await api.get("/v1/suppressions/export.csv", headers=_bearer(key))
    assert export.headers["content-type"].startswith("text/csv")
    assert answered == []


async def test_a_revoked_key_stops_when_the_cache_lets_it_go(
    api: httpx.AsyncClient, cached_services: Services, fast_app: FastAPI, answered: list[str]
) -> None:
    """The fast path trusts a key only while the authenticator's cache does (its TTL)."""
    stored, key = cached_services.keys.create("backend", "read")
    path = "/v1/suppressions/hit@example.com"
    assert (await api.get(path, headers=_bearer(key))).is_success
    cached_services.keys.revoke(stored.key_id)
    assert (await api.get(path, headers=_bearer(key))).is_success  # within the TTL, as before
    auth: Authenticator = fast_app.state.authenticator
    auth.ttl = 0
    auth._cache.clear()  # the TTL ran out
    assert (await api.get(path, headers=_bearer(key))).status_code == 401
    assert answered == [path]


async def test_the_rate_limit_holds_and_the_route_says_429(
    engine: Engine, answered: list[str]
) -> None:
    """A key over its rate gets the route's 429 with Retry-After; each request counts once."""
    services = Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=ApiSettings(key_cache_seconds=60),
    )
    _, key = services.keys.create("backend", "read", rate_limit=60)  # bursts of 10
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as api:
        codes = [
            (await api.get("/v1/suppressions/a@example.com", headers=_bearer(key))).status_code
            for _ in range(12)
        ]
        limited = await api.get("/v1/suppressions/a@example.com", headers=_bearer(key))
    assert codes == [200] * 10 + [429] * 2
    assert limited.headers["retry-after"]
    assert len(answered) == 9  # the first verified the key on the route


async def test_a_store_error_is_answered_by_the_route(
    api: httpx.AsyncClient,
    cached_services: Services,
    answered: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failing store: the route's problem+json (503), not a bare 500 from here."""
    _, key = cached_services.keys.create("backend", "read")
    path = "/v1/suppressions/hit@example.com"
    assert (await api.get(path, headers=_bearer(key))).is_success

    def down(*args: object, **kwargs: object) -> None:
        raise SqlStoreUnavailableError("the SQL store is unavailable; retry shortly")

    monkeypatch.setattr(cached_services.suppressions, "lookup", down)
    response = await api.get(path, headers=_bearer(key))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert answered == []


def test_every_literal_route_under_the_prefix_is_known(fast_app: FastAPI) -> None:
    """Each route at /v1/suppressions/<fixed segment> (any method) is read from the app,
    so a route added later is never shadowed by the lookup."""
    from acctpipe.api.fastlookup import PREFIX, literal_segments

    literal = literal_segments(fast_app.routes)
    expected = {
        path[len(PREFIX) :]
        for path, _ in _routes(fast_app)
        if path.startswith(PREFIX) and "/" not in path[len(PREFIX) :] and "{" not in path
    }
    assert {"changes", "export.csv", "bulk"} <= expected
    assert literal == expected


async def test_every_literal_get_route_under_the_prefix_goes_to_its_route(
    api: httpx.AsyncClient, cached_services: Services, fast_app: FastAPI, answered: list[str]
) -> None:
    """A GET of each literal route under the prefix, and of one added after create_app,
    reaches the route, never the lookup."""
    from acctpipe.api.fastlookup import PREFIX

    extra = APIRouter()

    @extra.get(PREFIX + "new@route.example")
    async def new_route() -> dict[str, str]:
        return {"route": "new"}

    # Routes are matched in order: the new one must precede the lookup to be reachable.
    fast_app.include_router(extra)
    fast_app.router.routes.insert(0, fast_app.router.routes.pop())
    _, key = cached_services.keys.create("backend", "read")
    await api.get("/v1/suppressions/hit@example.com", headers=_bearer(key))  # key cached
    answered.clear()
    gets = [
        path
        for path, methods in _routes(fast_app)
        if "GET" in methods
        and path.startswith(PREFIX)
        and "/" not in path[len(PREFIX) :]
        and "{" not in path
    ]
    assert PREFIX + "new@route.example" in gets
    for path in gets:
        await api.get(path, headers=_bearer(key))
    assert answered == []
    new = await api.get(PREFIX + "new@route.example", headers=_bearer(key))
    assert new.json() == {"route": "new"}


async def test_a_store_error_spends_one_rate_token_not_two(
    engine: Engine, answered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the fast path took the token and the store failed, the route does not take
    another: a key of 60/min (bursts of 10) gets ten answers, then 429."""
    services = Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=ApiSettings(key_cache_seconds=60),
    )
    _, key = services.keys.create("backend", "read", rate_limit=60)
    transport = httpx.ASGITransport(app=create_app(services))
    path = "/v1/suppressions/a@example.com"
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as api:
        first = await api.get(path, headers=_bearer(key))  # the route: verifies the key

        def down(*args: object, **kwargs: object) -> None:
            raise SqlStoreUnavailableError("the SQL store is unavailable; retry shortly")

        monkeypatch.setattr(services.suppressions, "lookup", down)
        codes = [(await api.get(path, headers=_bearer(key))).status_code for _ in range(10)]
    assert first.status_code == 200
    assert codes == [503] * 9 + [429]
    assert answered == []

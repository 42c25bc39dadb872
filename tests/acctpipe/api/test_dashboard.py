"""The dashboard: login and session cookie, the page and its JSON, escaping, static files.

The browser test runs the app on a real loopback socket over real stores (SQLite,
a DuckDB event store fed by the loader from an accounting file, a webhook outbox)
and drives headless Chromium through it; the others talk to the app in-process,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from acctpipe.analytics.source import SharedStore
from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.api.auth import COOKIE_NAME
from acctpipe.eventstore import Store
from acctpipe.policy.types import ThrottleDecision
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from acctpipe.webhooks.outbox import Outbox
from acctpipe.webhooks.store import WebhookStore
from mta.mgmt.app import MgmtServer
from tests.acctpipe._acct import ingested
from tests.acctpipe.api._browser import PageLog, launch, require_chromium
from tests.acctpipe.api.fixtures import Keys

HOSTILE = "</script><script>alert(1)</script>"
# rcpt_domain is what follows the last '@' up to '>' or a space; this still ends a script.
HOSTILE_DOMAIN = "</script/<img/src/onerror=alert(2)"
_BOUNCE = "smtp;550 5.1.1 The email account that you tried to reach does not exist"


@dataclass
class World:
    """A populated installation: its services, keys and what the page must show."""

    services: Services
    keys: Keys


def _records(now: datetime) -> list[dict[str, object]]:
    """Today: gmail 5 d / 2 b / 1 t / 1 f, yahoo 3 d / 1 b, a hostile pair 1 d; yesterday 4 d."""
    today = max(datetime.combine(now.date(), time(0), tzinfo=UTC), now - timedelta(seconds=30))
    yesterday = datetime.combine(now.date(), time(0), tzinfo=UTC) - timedelta(hours=1)
    plan = [
        (today, "gmail.com", "vmta-a", "d", 5),
        (today, "gmail.com", "vmta-a", "b", 2),
        (today, "gmail.com", "vmta-a", "t", 1),
        (today, "gmail.com", "vmta-a", "f", 1),
        (today, "yahoo.com", "vmta-b", "d", 3),
        (today, "yahoo.com", "vmta-b", "b", 1),
        (today, HOSTILE_DOMAIN, HOSTILE, "d", 1),
        (yesterday, "gmail.com", "vmta-a", "d", 4),
    ]
    diag = {"d": "smtp;250 2.0.0 OK", "b": _BOUNCE, "t": "smtp;451 4.7.1 Greylisted", "f": ""}
    out: list[dict[str, object]] = []
    for at, domain, vmta, kind, count in plan:
        for _ in range(count):
            out.append(
                {
                    "type": kind,
                    "timeLogged": at,
                    "timeQueued": at - timedelta(seconds=5),
                    "orig": "news@example.com",
                    "rcpt": f"u{len(out)}@{domain}",
                    "dsnStatus": diag[kind][9:14],
                    "dsnDiag": diag[kind],
                    "bounceCat": "bad-mailbox" if kind == "b" else "",
                    "vmta": vmta,
                    "queue": f"{domain}/{vmta}",
                    "feedbackType": "abuse" if kind == "f" else "",
                }
            )
    return out


@pytest.fixture
def event_store(tmp_path: Path) -> Iterator[Store]:
    """A DuckDB event store holding :func:`_records`, ingested by the loader from a file."""
    store = ingested(tmp_path, _records(datetime.now(UTC)))
    try:
        yield store
    finally:
        store.close()


def _populate(services: Services, store: Store) -> World:
    """Wire events, webhooks and an outbox into ``services``; add suppressions and a throttle."""
    engine = services.engine
    outbox = Outbox(engine, cache_seconds=0)
    services.webhooks = WebhookStore(engine)
    services.webhooks.create("http://127.0.0.1:9/hook", ["*"], description=HOSTILE)
    services.suppressions = SuppressionStore(engine, on_changes=outbox.change_hook)
    services.throttles = ThrottleStore(engine, on_record=outbox.throttle_hook)
    services.events = SharedStore(store)
    s = services.suppressions
    s.add("a@gmail.com", reason="hard-bounce", detail=HOSTILE)
    s.add("b@gmail.com", reason="hard-bounce")
    s.add("c@yahoo.com", reason="complaint")
    now = datetime.now(UTC)
    for vmta in ("vmta-a", HOSTILE):
        services.throttles.record(
            ThrottleDecision(
                queue=f"gmail.com/{vmta}",
                vmta=vmta,
                action="slow",
                rule="spam-blocks",
                decided_at=now - timedelta(minutes=1),
                expires_at=now + timedelta(hours=1),
                rate=2.5,
                detail=HOSTILE,
            )
        )
    keys = services.keys
    return World(
        services,
        Keys(
            read=keys.create("reader", "read")[1],
            write=keys.create("writer", "write")[1],
            admin=keys.create("admin", "admin")[1],
        ),
    )


@pytest.fixture
def world(services: Services, event_store: Store) -> World:
    """The test database (SQLite, then PostgreSQL), populated."""
    return _populate(services, event_store)


@pytest.fixture
def sqlite_world(tmp_path: Path, event_store: Store, settings: ApiSettings) -> Iterator[World]:
    """A populated installation on a SQLite file only (for the browser test)."""
    engine: Engine = open_database(f"sqlite:///{tmp_path / 'api.sqlite'}")
    services = Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=settings,
    )
    try:
        yield _populate(services, event_store)
    finally:
        engine.dispose()


@pytest.fixture
async def dash(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app over :func:`world` (redirects not followed)."""
    transport = httpx.ASGITransport(app=create_app(world.services))
    # What a browser sends with every request from the dashboard's own pages.
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api.test", headers=same_origin
    ) as c:
        yield c


# -- helpers ------------------------------------------------------------------------------


def _at(blob: Any, path: str) -> Any:
    for part in path.split("."):
        blob = blob.get(part) if isinstance(blob, dict) else None
    return blob


def _same(shown: str, expected: Any) -> bool:
    """A page's ``data-value`` text means the same as the JSON value."""
    if expected is None:
        return shown == ""
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return shown != "" and float(shown) == float(expected)
    return shown == str(expected)


_VOLATILE = {"generated_at", "ingest.lag_seconds"}  # move between two requests


def _check_page_matches(
    metrics: list[list[str]], rows: list[dict[str, str]], api: dict[str, Any]
) -> None:
    """Every figure on the page equals the same path of the API's JSON."""
    assert len(metrics) >= 15
    for path, value, _text in metrics:
        if path not in _VOLATILE:
            assert _same(value, _at(api, path)), (path, value, _at(api, path))
    assert len(rows) == len(api["pairs"])
    for shown, pair in zip(rows, api["pairs"], strict=True):
        assert shown.keys() == {
            "domain",
            "vmta",
            "attempted",
            "delivered",
            "bounced",
            "deferrals",
            "complaints",
            "bounce_rate",
            "complaint_rate",
        }
        for col, value in shown.items():
            assert _same(value, pair[col]), (col, value, pair[col])


_METRICS_JS = "els => els.map(e => [e.dataset.metric, e.dataset.value, e.textContent])"
_ROWS_JS = (
    "rows => rows.map(r => Object.fromEntries([...r.cells].map(c => [c.dataset.col,"
    " c.dataset.value])))"
)


def _blob(page: str) -> str:
    found = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page)
    assert found is not None
    return found.group(1)


# -- the browser --------------------------------------------------------------------------


@pytest.mark.slow
async def test_browser_login_then_dashboard_matches_the_api(sqlite_world: World) -> None:
    """In Chromium: / sends to the login form; after logging in every figure, row and chart
    matches /v1/dashboard, a refresh redraws them, and the page logs no error, runs no
    injected script and requests nothing beyond the server."""
    chromium = require_chromium()
    keys = sqlite_world.keys
    served = MgmtServer(create_app(sqlite_world.services), "127.0.0.1", 0)
    await served.start()
    try:
        base = served.url
        async with launch(chromium) as browser:
            page = await browser.new_page()
            log = PageLog.watch(page)
            await page.goto(base + "/")
            assert page.url == base + "/login"
            await page.fill("#key", keys.read)
            await page.click("form.login button[type=submit]")
            await page.wait_for_url(base + "/")
            await page.wait_for_selector('[data-chart="volume"] svg rect')

            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                api = (await http.get("/v1/dashboard", headers=keys.auth("read"))).json()
            metrics = await page.eval_on_selector_all("[data-metric]", _METRICS_JS)
            rows = await page.eval_on_selector_all("#pairs tr[data-row]", _ROWS_JS)
            _check_page_matches(metrics, rows, api)
            assert api["today"]["delivered"] == 9
            delivered = page.locator('.card [data-metric="today.delivered"]')
            assert await delivered.inner_text() == "9"
            assert await page.locator('[data-chart="volume"] svg rect').count() > 3
            assert await page.locator('[data-chart="rates"] svg rect').count() > 1
            assert HOSTILE in await page.locator("#pairs").inner_text()
            assert HOSTILE in await page.locator("#throttles").inner_text()

            before = await page.get_attribute('[data-metric="generated_at"]', "data-value")
            await page.click("#refresh")
            await page.wait_for_function(
                "v => document.querySelector('[data-metric=\"generated_at\"]').dataset.value !== v",
                arg=before,
            )
            metrics = await page.eval_on_selector_all("[data-metric]", _METRICS_JS)
            rows = await page.eval_on_selector_all("#pairs tr[data-row]", _ROWS_JS)
            _check_page_matches(metrics, rows, api)
            assert await page.locator('[data-chart="volume"] svg rect').count() > 3

            await page.click("header form button[type=submit]")  # log out
            await page.wait_for_url(base + "/login")
            await page.goto(base + "/")
            assert page.url == base + "/login"
    finally:
        await served.stop()
    assert log.console_errors == []
    assert log.page_errors == []
    assert log.dialogs == []
    assert log.requests
    for url in log.requests:
        parts = urlsplit(url)
        assert parts.scheme == "data" or parts.hostname == "127.0.0.1", url


# -- without a browser --------------------------------------------------------------------


@pytest.mark.slow
async def test_dashboard_without_a_key_redirects_to_login(dash: httpx.AsyncClient) -> None:
    """Opening / without a key (or with a bad cookie) sends the browser to /login."""
    for cookies in ({}, {COOKIE_NAME: "acp_not-a-key"}):
        dash.cookies.clear()
        dash.cookies.update(cookies)
        response = await dash.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
    form = await dash.get("/login")
    assert form.status_code == 200
    assert 'name="key"' in form.text
    assert "gmail.com" not in form.text


@pytest.mark.slow
async def test_login_with_a_bad_key_is_refused(dash: httpx.AsyncClient) -> None:
    """A wrong key on the login form answers 401 with the form and a message, and no cookie."""
    for body in ("key=acp_wrong", "", "key=" + "x" * 5000):
        response = await dash.post(
            "/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 401
        assert "not valid" in response.text
        assert "set-cookie" not in response.headers


async def test_login_sets_an_httponly_samesite_strict_cookie(
    dash: httpx.AsyncClient, world: World
) -> None:
    """A good key sets an HttpOnly, SameSite=Strict session cookie (not Secure by default)
    and the dashboard then opens with a strict Content-Security-Policy."""
    response = await dash.post("/login", data={"key": world.keys.read})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes
    page = await dash.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert re.search(r"\son[a-z]+=", page.text) is None  # no inline event handlers


@pytest.mark.slow
async def test_secure_cookies_setting_marks_the_cookie_secure(world: World) -> None:
    """With secure_cookies on (behind HTTPS), the session cookie is also Secure."""
    world.services.settings = ApiSettings(secure_cookies=True, key_cache_seconds=0)
    transport = httpx.ASGITransport(app=create_app(world.services))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        response = await c.post(
            "/login", data={"key": world.keys.read}, headers={"Origin": "https://api.test"}
        )
    assert "secure" in {a.strip().lower() for a in response.headers["set-cookie"].split(";")}


@pytest.mark.slow
async def test_the_session_cookie_cannot_change_anything(
    dash: httpx.AsyncClient, world: World
) -> None:
    """Even an admin key's cookie is refused (401) on a POST: it only opens pages to read."""
    await dash.post("/login", data={"key": world.keys.admin})
    assert dash.cookies.get(COOKIE_NAME) == world.keys.admin
    assert (await dash.get("/v1/suppressions")).status_code == 200
    response = await dash.post("/v1/suppressions", json={"address": "x@example.com"})
    assert response.status_code == 401
    assert world.services.suppressions.get("x@example.com") == []
    logout = await dash.post("/logout")
    assert logout.status_code == 303
    assert logout.headers["location"] == "/login"
    assert dash.cookies.get(COOKIE_NAME) is None
    assert (await dash.get("/")).status_code == 303


@pytest.mark.slow
async def test_the_json_has_todays_figures(dash: httpx.AsyncClient, world: World) -> None:
    """/v1/dashboard counts today's events only, per pair, with suppressions, throttles
    and the webhook backlog."""
    response = await dash.get("/v1/dashboard", headers=world.keys.auth("read"))
    assert response.status_code == 200
    data = response.json()
    assert data["events_available"] is True
    today = data["today"]
    assert (today["delivered"], today["bounced"], today["deferrals"]) == (9, 3, 1)
    assert (today["attempted"], today["complaints"]) == (12, 1)
    assert today["bounce_rate"] == pytest.approx(3 / 12)
    assert today["complaint_rate"] == pytest.approx(1 / 9)
    pairs = {(p["domain"], p["vmta"]): p for p in data["pairs"]}
    assert set(pairs) == {
        ("gmail.com", "vmta-a"),
        ("yahoo.com", "vmta-b"),
        (HOSTILE_DOMAIN, HOSTILE),
    }
    gmail = pairs["gmail.com", "vmta-a"]
    assert [gmail[k] for k in ("delivered", "bounced", "deferrals", "complaints")] == [5, 2, 1, 1]
    assert data["ingest"]["files"] == 1
    assert data["ingest"]["lag_seconds"] >= 0
    assert data["suppressions"]["total"] == 3
    assert data["suppressions"]["by_reason"]["hard-bounce"] == 2
    assert data["suppressions"]["by_reason"]["complaint"] == 1
    assert [(t["vmta"], t["action"], t["rate"]) for t in data["throttles"]] == sorted(
        [("vmta-a", "slow", 2.5), (HOSTILE, "slow", 2.5)],
        key=lambda t: f"gmail.com/{t[0]}",
    )
    assert world.services.webhooks is not None
    assert data["webhooks"]["pending"] == world.services.webhooks.stats()["pending"] > 0
    assert (await dash.get("/v1/dashboard")).status_code == 401


@pytest.mark.slow
async def test_hostile_strings_are_escaped_in_the_page_and_its_json(
    dash: httpx.AsyncClient, world: World
) -> None:
    """Domains and vmtas from mail logs cannot inject markup: HTML-escaped in the page, and
    the embedded JSON holds no '<' (so no '</script>'), yet decodes to the API's data."""
    page = (await dash.get("/", headers=world.keys.auth("read"))).text
    assert "alert(1)" in page  # shown, as text
    assert "alert(2)" in page
    assert "<script>alert" not in page
    assert "</script/<img" not in page
    assert html.escape(HOSTILE, quote=False) in page
    assert page.count("<script") == 2  # charts.js and the JSON block
    blob = _blob(page)
    assert "<" not in blob
    assert ">" not in blob
    embedded = json.loads(blob)
    api = (await dash.get("/v1/dashboard", headers=world.keys.auth("read"))).json()
    assert embedded["pairs"] == api["pairs"]
    assert embedded["throttles"] == api["throttles"]


@pytest.mark.slow
async def test_static_files_are_a_fixed_list(dash: httpx.AsyncClient, world: World) -> None:
    """Only the stylesheet (public) and charts.js (read key) are served, with their types;
    any other name, or a path out of the folder, is 404."""
    css = await dash.get("/static/acctpipe.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert (await dash.get("/static/charts.js")).status_code == 401
    script = await dash.get("/static/charts.js", headers=world.keys.auth("read"))
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "dashboard-data" in script.text
    auth = world.keys.auth("read")
    for path in (
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/static/%2e%2e%2fdashboard.py",
        "/static/dashboard.py",
        "/static/",
        "/static/charts.js.map",
    ):
        response = await dash.get(path, headers=auth)
        assert response.status_code == 404, path
    raw = await dash.request("GET", httpx.URL("http://api.test/static/../app.py"), headers=auth)
    assert raw.status_code == 404


@pytest.mark.slow
async def test_without_event_store_or_webhooks_the_rest_still_shows(
    services: Services, keys: Keys, app: FastAPI, client: httpx.AsyncClient
) -> None:
    """With no event store and webhooks off, the JSON says why and the page shows a notice,
    while suppressions and throttles still appear."""
    services.suppressions.add("z@example.com", reason="manual")
    data = (await client.get("/v1/dashboard", headers=keys.auth("read"))).json()
    assert data["events_available"] is False
    assert "no event store" in data["events_detail"]
    assert data["ingest"] is None
    assert data["pairs"] == []
    assert data["webhooks"] is None
    assert data["suppressions"]["by_reason"]["manual"] == 1
    page = (await client.get("/", headers=keys.auth("read"))).text
    assert "Event figures are unavailable" in page
    assert re.search(r'data-notice="events"\s*>', page)  # not hidden
    assert "webhooks are off" in page


@pytest.mark.slow
async def test_only_the_json_is_in_the_openapi_document(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """/v1/dashboard is documented (tag dashboard); the pages and static files are not."""
    spec = (await client.get("/openapi.json", headers=keys.auth("read"))).json()
    assert spec["paths"]["/v1/dashboard"]["get"]["tags"] == ["dashboard"]
    assert not {"/", "/login", "/logout", "/static/{name}"} & set(spec["paths"])
    docs = await client.get("/docs", headers=keys.auth("read"))
    assert '<link rel="stylesheet" href="/static/acctpipe.css">' in docs.text
    assert docs.headers["content-type"].startswith("text/html")

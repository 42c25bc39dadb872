"""One bounce rate and one complaint rate, whichever surface shows them.

The dashboard's cards, ``/v1/dashboard``, the named reports and ``/metrics`` read
the same events; they must agree with each other and with the definitions a
mailbox provider uses (computed by hand below), not each count its own way.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from acctpipe.analytics.source import SharedStore
from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from tests.acctpipe._acct import ingested

_DIAGS = {
    "d": "smtp;250 2.0.0 OK",
    "b": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
    "rb": "smtp;550 5.1.1 user unknown",
    "t": "smtp;451 4.7.1 Greylisted, try again later",
    "f": "",
}
# Today, one pair: 20 delivered, 3 bounced at once, 7 bounced later (rb), 2 complaints,
# 4 deferrals. By hand: attempted = d + b = 23; bounced = b + rb = 10;
# bounce rate = 10 / 23; complaint rate = f / d = 2 / 20.
_PLAN = {"d": 20, "b": 3, "rb": 7, "f": 2, "t": 4}
BOUNCE_RATE = 10 / 23
COMPLAINT_RATE = 2 / 20


def _records(now: datetime) -> list[dict[str, object]]:
    at = max(datetime.combine(now.date(), time(0), tzinfo=UTC), now - timedelta(seconds=30))
    out: list[dict[str, object]] = []
    for kind, count in _PLAN.items():
        for _ in range(count):
            out.append(
                {
                    "type": kind,
                    "timeLogged": at,
                    "timeQueued": at - timedelta(seconds=5),
                    "orig": "news@example.com",
                    "rcpt": f"u{len(out)}@gmail.com",
                    "dsnStatus": _DIAGS[kind][9:14],
                    "dsnDiag": _DIAGS[kind],
                    "vmta": "vmta-a",
                    "queue": "gmail.com/vmta-a",
                    "feedbackType": "abuse" if kind == "f" else "",
                }
            )
    return out


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """SQLite stores and a DuckDB event store holding :func:`_records`, loaded from a file."""
    store = ingested(tmp_path, _records(datetime.now(UTC)))
    engine: Engine = open_database(f"sqlite:///{tmp_path / 'api.sqlite'}")
    try:
        yield Services(
            engine=engine,
            suppressions=SuppressionStore(engine),
            throttles=ThrottleStore(engine),
            keys=ApiKeyStore(engine),
            events=SharedStore(store),
            settings=ApiSettings(key_cache_seconds=0),
        )
    finally:
        engine.dispose()
        store.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with a read key."""
    key = services.keys.create("reader", "read")[1]
    transport = httpx.ASGITransport(app=create_app(services))
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        yield c


def _card(page: str, path: str) -> tuple[float, str]:
    """The raw value and the shown text of the page's ``data-metric=path`` element."""
    found = re.search(
        rf'data-metric="{re.escape(path)}" data-format="[a-z]+" data-value="([^"]*)">([^<]*)<',
        page,
    )
    assert found is not None, path
    return float(found.group(1)), html.unescape(found.group(2))


def _gauge(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


@pytest.mark.slow
async def test_every_surface_shows_the_same_bounce_and_complaint_rates(
    client: httpx.AsyncClient,
) -> None:
    """Bounce rate is (b + rb) / (d + b) and complaint rate is f / d on the dashboard's
    cards, in /v1/dashboard, in the reports and in /metrics alike."""
    page = (await client.get("/")).text
    value, shown = _card(page, "today.bounce_rate")
    assert value == pytest.approx(BOUNCE_RATE)
    assert shown == "43.48%"
    assert _card(page, "today.bounced") == (10, "10")
    value, shown = _card(page, "today.complaint_rate")
    assert value == pytest.approx(COMPLAINT_RATE)
    assert shown == "10.00%"

    today = (await client.get("/v1/dashboard")).json()["today"]
    assert (today["attempted"], today["bounced"], today["complaints"]) == (23, 10, 2)
    assert today["bounce_rate"] == pytest.approx(BOUNCE_RATE)
    assert today["complaint_rate"] == pytest.approx(COMPLAINT_RATE)

    for path in ("/v1/reports/today", "/v1/reports/rates-by-day?days=1"):
        report = (await client.get(path)).json()
        (row,) = [dict(zip(report["columns"], r, strict=True)) for r in report["rows"]]
        assert row["bounce_rate"] == pytest.approx(BOUNCE_RATE), path
        assert row["hard_bounce_rate"] == pytest.approx(BOUNCE_RATE), path  # all 5.1.1
        assert row["complaint_rate"] == pytest.approx(COMPLAINT_RATE), path

    metrics = (await client.get("/metrics")).text
    assert _gauge(metrics, "acctpipe_bounce_rate") == pytest.approx(BOUNCE_RATE)
    assert _gauge(metrics, "acctpipe_hard_bounce_rate") == pytest.approx(BOUNCE_RATE)
    assert _gauge(metrics, "acctpipe_complaint_rate") == pytest.approx(COMPLAINT_RATE)


def test_the_daily_views_use_the_same_rates(services: Services) -> None:
    """Analysts' daily_domain_stats and daily_vmta_stats views count rates the same way."""
    assert services.events is not None
    with services.events.connect() as conn:
        for view in ("daily_domain_stats", "daily_vmta_stats"):
            row = conn.execute(f"SELECT bounce_rate, complaint_rate FROM {view}").fetchone()
            assert row == (pytest.approx(BOUNCE_RATE), pytest.approx(COMPLAINT_RATE)), view


def _title(page: str) -> str:
    found = re.search(r"<title>([^<]*)</title>", page)
    assert found is not None
    return html.unescape(found.group(1))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("node", "dashboard", "login"),
    [
        ("acctpipe", "dashboard · acctpipe", "log in · acctpipe"),
        ("mx1", "dashboard · mx1 · acctpipe", "log in · mx1 · acctpipe"),
    ],
)
async def test_page_titles_name_the_product_once(
    services: Services, node: str, dashboard: str, login: str
) -> None:
    """The browser tab says which page and which node, and never "acctpipe · acctpipe"."""
    services.settings = ApiSettings(key_cache_seconds=0, node=node)
    key = services.keys.create("reader", "read")[1]
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        page = (await c.get("/", headers={"Authorization": f"Bearer {key}"})).text
        form = (await c.get("/login")).text
    assert _title(page) == dashboard
    assert _title(form) == login
    assert "acctpipe acctpipe" not in re.sub(r"<[^>]+>", "", page).replace("\n", " ")

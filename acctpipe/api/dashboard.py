"""The dashboard: one server-rendered page, its login, its static files, and its JSON.

Routes::

    GET  /               the dashboard (read key: a header, or the session cookie)
                         → 303 to /login without a valid key
    GET  /login          the key form (no key; shows no data)
    POST /login          form field ``key``: good → session cookie + 303 to /;
                         bad → the form again with 401
    POST /logout         clear the session cookie, 303 to /login (POST only)

Both posts must come from our own pages: ``Sec-Fetch-Site: same-origin``, or an
``Origin`` naming this host; anything else (``Origin: null`` alone, another
site, no header at all) is refused with 403.
    GET  /static/{name}  acctpipe.css (public: the login page needs it) and charts.js
                         (read key) — a fixed list of names, nothing else
    GET  /v1/dashboard   the data the page is rendered from (read key)

The session cookie holds the API key itself, HttpOnly and SameSite=Strict
(Secure with ``ApiSettings.secure_cookies``); :mod:`acctpipe.api.auth` honours
it for GET and HEAD only, so it can never change anything. Pages carry a
strict Content-Security-Policy: ``charts.js`` (ours, no third-party code) reads
the data from a ``<script type="application/json">`` block, which the browser
never executes, and draws the charts as SVG.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qs, urlsplit

import duckdb
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from acctpipe.analytics.errors import EventsUnavailableError, SqlError
from acctpipe.analytics.reports import REPORTS
from acctpipe.api._problems import problems
from acctpipe.api.auth import COOKIE_NAME, client_address, presented_key, require, services
from acctpipe.api.keys import ApiKey
from acctpipe.api.routes_system import templates
from acctpipe.api.routes_webhooks import BacklogOut
from acctpipe.api.settings import Services
from acctpipe.eventstore.rates import describe
from acctpipe.sqlstore.schema import REASONS
from mta.errors import StoreError
from mta.failurelog import one_line

__all__ = [
    "CSP",
    "DashboardOut",
    "IngestOut",
    "PairOut",
    "StatsOut",
    "SuppressionsOut",
    "ThrottleOut",
    "collect",
    "router",
]

router = APIRouter()  # only /v1/dashboard is in the OpenAPI document
Svc = Annotated[Services, Depends(services)]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC_DIR: Final = Path(__file__).parent / "static"
# name → (content type, needs a key). The stylesheet holds no data and the login
# page (shown before there is a key) uses it; everything else needs a read key.
_STATIC: Final[Mapping[str, tuple[str, bool]]] = {
    "acctpipe.css": ("text/css; charset=utf-8", False),
    "charts.js": ("text/javascript; charset=utf-8", True),
}
_MAX_FORM: Final = 4096  # bytes of a login form; a key is ~50
_LOGIN_PER_MINUTE: Final = 30
_MAX_PAIRS: Final = 200  # (domain, vmta) rows on the page
_READ: Final = require("read")


class StatsOut(BaseModel):
    """Counts and rates as :mod:`acctpipe.eventstore.rates` defines them (docs/analytics.md)."""

    attempted: int = Field(default=0, description=describe("attempted"))
    delivered: int = Field(default=0, description=describe("delivered"))
    bounced: int = Field(default=0, description=describe("bounced"))
    deferrals: int = Field(default=0, description=describe("deferrals"))
    complaints: int = Field(default=0, description=describe("complaints"))
    delivery_rate: float | None = Field(default=None, description=describe("delivery_rate"))
    bounce_rate: float | None = Field(default=None, description=describe("bounce_rate"))
    complaint_rate: float | None = Field(default=None, description=describe("complaint_rate"))


class PairOut(StatsOut):
    """Today's outcomes for one (recipient domain, vmta) pair."""

    domain: str
    vmta: str


class IngestOut(BaseModel):
    """How far the event store is behind the accounting files."""

    lag_seconds: float | None = Field(description="now minus the newest event's time")
    newest_event: datetime | None = Field(description="timeLogged of the newest event")
    files: int = Field(description="accounting and reject files followed")
    bytes_behind: int = Field(description="bytes of active files not yet ingested")


class SuppressionsOut(BaseModel):
    """Suppressions in the store, by reason."""

    total: int
    by_reason: dict[str, int]


class ThrottleOut(BaseModel):
    """A throttle decision in force."""

    # ThrottleOut.model_validate(decision) copies a ThrottleDecision's fields.
    model_config = ConfigDict(from_attributes=True)

    queue: str
    vmta: str
    action: str
    rate: float | None = Field(description="messages per second (null: the configured rate)")
    max_smtp_out: int | None
    expires_at: datetime
    rule: str


class DashboardOut(BaseModel):
    """Everything the dashboard shows, as of ``generated_at`` (UTC)."""

    node: str
    generated_at: datetime
    events_available: bool
    events_detail: str = Field(description="why event figures are missing, when they are")
    ingest: IngestOut | None
    today: StatsOut = Field(description="today's (UTC) totals over every pair")
    pairs: list[PairOut] = Field(description="today's outcomes per (domain, vmta), busiest first")
    pairs_truncated: bool
    suppressions: SuppressionsOut
    throttles: list[ThrottleOut]
    webhooks: BacklogOut | None = Field(description="the webhook outbox (null: webhooks off)")


def _stats(row: Mapping[str, Any]) -> dict[str, Any]:
    def rate(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    counts = ("attempted", "delivered", "bounced", "deferrals", "complaints")
    rates = ("delivery_rate", "bounce_rate", "complaint_rate")
    return {**{c: int(row.get(c) or 0) for c in counts}, **{r: rate(r) for r in rates}}


def _events(svc: Services, now: datetime) -> tuple[IngestOut | None, StatsOut, list[PairOut], bool]:
    """Ingest state, today's totals and per-pair rows from the event store."""
    if svc.events is None:
        raise EventsUnavailableError("no event store configured")
    timeout = svc.settings.sql_timeout
    with svc.events.connect() as conn:
        pairs = REPORTS["today"].run(conn, {"limit": _MAX_PAIRS}, now=now, timeout=timeout)
        day = REPORTS["rates-by-day"].run(conn, {"days": 1}, now=now, timeout=timeout)
        files = REPORTS["ingest-status"].run(conn, {"limit": 10_000}, now=now, timeout=timeout)
    rows = [dict(zip(pairs.columns, r, strict=True)) for r in pairs.rows]
    totals = [dict(zip(day.columns, r, strict=True)) for r in day.rows]
    states = [dict(zip(files.columns, r, strict=True)) for r in files.rows]
    newest = max((s["newest_time_logged"] for s in states if s["newest_time_logged"]), default=None)
    ingest = IngestOut(
        lag_seconds=max(0.0, (now - newest).total_seconds()) if newest is not None else None,
        newest_event=newest,
        files=len(states),
        bytes_behind=sum(int(s["bytes_behind"]) for s in states if s["status"] == "active"),
    )
    out = [PairOut(domain=r["rcpt_domain"] or "", vmta=r["vmta"] or "", **_stats(r)) for r in rows]
    return ingest, StatsOut(**_stats(totals[-1] if totals else {})), out, pairs.truncated


def collect(svc: Services, now: datetime | None = None) -> DashboardOut:
    """Gather the dashboard's data from every store (blocking: call it off the event loop)."""
    at = now or datetime.now(UTC)
    detail = ""
    try:
        ingest, today, pairs, truncated = _events(svc, at)
    except (StoreError, SqlError, duckdb.Error) as exc:  # the page still shows the rest
        detail = one_line(exc)
        ingest, today, pairs, truncated = None, StatsOut(), [], False
    # The kept counts (a handful of rows), never a count over the list; an expired
    # suppression is counted until the sweeper removes it.
    by_reason = dict.fromkeys(REASONS, 0)
    for (reason, _), n in svc.suppressions.counts().items():
        by_reason[reason] = by_reason.get(reason, 0) + n
    throttles = [ThrottleOut.model_validate(t.decision) for t in svc.throttles.active(at)]
    return DashboardOut(
        node=svc.settings.node,
        generated_at=at,
        events_available=not detail,
        events_detail=detail,
        ingest=ingest,
        today=today,
        pairs=pairs,
        pairs_truncated=truncated,
        suppressions=SuppressionsOut(total=sum(by_reason.values()), by_reason=by_reason),
        throttles=throttles,
        webhooks=BacklogOut(**svc.webhooks.stats()) if svc.webhooks is not None else None,
    )


@router.get(
    "/v1/dashboard",
    dependencies=[Depends(_READ)],
    responses=problems(),
    tags=["dashboard"],
)
def dashboard_data(svc: Svc) -> DashboardOut:
    """The dashboard's figures: ingest lag, today's outcomes, suppressions, throttles, webhooks."""
    return collect(svc)


# -- the pages ------------------------------------------------------------------------------


async def _viewer(request: Request) -> ApiKey | None:
    """The read key of ``request``, or None when it has no valid one (429 still raises)."""
    token = presented_key(request)
    if token is None:
        return None
    try:
        return await _READ(request, None, token, None)
    except HTTPException as exc:
        if exc.status_code == 401:
            return None
        raise


def _num(value: int | None) -> str:
    """A count as the page shows it (charts.js formats the same way)."""
    return "—" if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    """A rate (0..1) as a percentage with two decimals."""
    return "—" if value is None else f"{value * 100:.2f}%"


def _secs(value: float | None) -> str:
    """A duration in seconds, minutes or hours."""
    if value is None:
        return "—"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def _time(value: str | None) -> str:
    """An ISO 8601 UTC time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return "—" if not value else f"{value[:19].replace('T', ' ')} UTC"


_FORMATS: Final[Mapping[str, Any]] = {
    "num": _num,
    "pct": _pct,
    "secs": _secs,
    "time": _time,
    "rate": lambda v: "configured" if v is None else f"{v:g}/s",
    "text": lambda v: "" if v is None else str(v),
}


def _at(blob: Any, path: str) -> Any:
    """The value at a dotted ``path`` of the JSON ``blob`` (None when absent)."""
    for part in path.split("."):
        if not isinstance(blob, dict):
            return None
        blob = blob.get(part)
    return blob


def _page(name: str, status: int = 200, blob: Any = None, **context: Any) -> HTMLResponse:
    def show(fmt: str, value: Any) -> str:
        return str(_FORMATS[fmt](value))

    body = templates.get_template(name).render(
        blob=blob, at=lambda path: _at(blob, path), show=show, **context
    )
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(request: Request, svc: Svc) -> Response:
    """The dashboard page; without a valid key, a redirect to the login form."""
    if await _viewer(request) is None:
        return RedirectResponse("/login", status_code=303)
    data = await run_in_threadpool(collect, svc)
    return _page("dashboard.html", blob=data.model_dump(mode="json"), reasons=REASONS)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(svc: Svc) -> HTMLResponse:
    """The login form (no key needed; it shows no data)."""
    return _page("login.html", node=svc.settings.node, error="")


def _same_origin(request: Request) -> bool:
    """Whether a form post provably came from our own page.

    Either the browser says so (``Sec-Fetch-Site: same-origin``) or it sent an
    ``Origin`` naming this very host. The login page sends no referrer, so its
    posts carry ``Origin: null`` — which a sandboxed frame on any site sends
    too, so ``null`` counts only beside ``Sec-Fetch-Site: same-origin``. A post
    with neither header is refused: the forms are for browsers, and every
    browser that can log in sends one of them (scripts use the key directly).
    """
    if request.headers.get("sec-fetch-site") is not None:
        return request.headers["sec-fetch-site"] == "same-origin"
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.headers.get("host", "")


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, svc: Svc) -> Response:
    """Check the form's ``key``; on success set the session cookie and go to the dashboard.

    Guessing is limited per client address (30 tries a minute), and a form posted
    from another site is refused (login CSRF would plant the attacker's key).
    """
    if not _same_origin(request):
        raise HTTPException(403, "log in from this server's own login page")
    client = client_address(request)
    auth = request.app.state.authenticator
    wait = auth.limiter.take(f"login:{client}", _LOGIN_PER_MINUTE)
    if wait > 0:
        raise HTTPException(
            429, "too many login attempts; wait a minute", headers={"Retry-After": "60"}
        )
    body = await request.body()
    form = parse_qs(body[: _MAX_FORM + 1].decode("utf-8", "replace"), max_num_fields=10)
    key = (form.get("key") or [""])[0].strip()
    if len(body) > _MAX_FORM or not key or await auth.check(key, client) is None:
        message = "That key is not valid (unknown, revoked or mistyped)."
        return _page("login.html", status=401, node=svc.settings.node, error=message)
    response = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE_NAME,
        key,
        httponly=True,
        samesite="strict",
        secure=svc.settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, svc: Svc) -> Response:
    """End the browser session: clear the cookie and go back to the login form.

    Only from our own page (as for /login): another site must not be able to
    log a user out behind their back.
    """
    if not _same_origin(request):
        raise HTTPException(403, "log out from this server's own dashboard")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=svc.settings.secure_cookies
    )
    return response


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str, request: Request) -> Response:
    """A file of the fixed list in ``_STATIC`` (404 for any other name)."""
    found = _STATIC.get(name)
    if found is None:
        raise HTTPException(404, f"no static file {name!r}")
    media_type, needs_key = found
    if needs_key:
        await _READ(request, None, presented_key(request), None)  # 401/429 as problem+json
    content = await run_in_threadpool((_STATIC_DIR / name).read_bytes)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    return Response(content, media_type=media_type, headers=headers)

"""Health, readiness, Prometheus metrics, and the API reference.

``/healthz`` (the process answers) and ``/readyz`` (every component works:
SQL store, event store, webhook worker, and whatever the host process adds)
need no key, so load balancers and orchestrators can probe them. ``/metrics``,
``/openapi.json`` and ``/docs`` need a ``read`` key like everything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.settings import Services

__all__ = ["node_label", "page_title", "router", "templates"]

router = APIRouter(tags=["system"])
_log = logging.getLogger("acctpipe.api")
Svc = Annotated[Services, Depends(services)]
CHECK_SECONDS = 5.0  # a readiness check that takes longer is reported as failing
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)
_PRODUCT = "acctpipe"


def node_label(node: str | None) -> str:
    """The node's name as a page shows it beside ours: empty when it would only repeat
    "acctpipe" (the default node name) or say nothing."""
    name = (node or "").strip()
    return "" if name.casefold() == _PRODUCT else name


def page_title(page: str, node: str | None = None) -> str:
    """A page's ``<title>``: the page, the node when it adds something, then acctpipe."""
    return " · ".join(part for part in (page, node_label(node), _PRODUCT) if part)


templates.globals.update(page_title=page_title, node_label=node_label)


class HealthOut(BaseModel):
    """The process answers."""

    status: str = "ok"


class ComponentOut(BaseModel):
    """One component's readiness."""

    ok: bool
    detail: str = ""
    ms: float = Field(description="how long the check took")


class ReadyOut(BaseModel):
    """Every component's readiness; ``ready`` only when all are."""

    ready: bool
    components: dict[str, ComponentOut]


@router.get("/healthz")
async def healthz() -> HealthOut:
    """Liveness: the process answers (no key needed)."""
    return HealthOut()


def _sql(svc: Services) -> str | None:
    with svc.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return None


def _events(svc: Services) -> str | None:
    if svc.events is None:
        return "no event store configured (analytics and reports are off)"
    with svc.events.connect() as conn:
        conn.execute("SELECT 1").fetchall()
    return None


async def _bounded(name: str, check: Any) -> ComponentOut:
    """One check, answered within CHECK_SECONDS (a frozen store must not hang the probe)."""
    try:
        return await asyncio.wait_for(run_in_threadpool(_check, name, check), CHECK_SECONDS)
    except TimeoutError:
        return ComponentOut(ok=False, detail=f"no answer within {CHECK_SECONDS:.0f} s", ms=0.0)


def _check(name: str, check: Any) -> ComponentOut:
    started = time.perf_counter()
    try:
        problem = check()
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure
        # The text may name files, hosts and users: the log gets it, not the (keyless) caller.
        _log.warning("readiness of %s: %s", name, exc)
        problem = f"{type(exc).__name__} (details in the server log)"
    ms = round((time.perf_counter() - started) * 1000, 2)
    return ComponentOut(ok=problem is None, detail=problem or "", ms=ms)


@router.get("/readyz", responses={503: {"model": ReadyOut, "description": "Not ready"}})
async def readyz(svc: Svc) -> JSONResponse:
    """Readiness of every component (no key needed); 503 when any is not ready."""
    checks = {"sql": lambda: _sql(svc), "events": lambda: _events(svc), **svc.checks}
    results = {name: await _bounded(name, check) for name, check in checks.items()}
    if svc.events is None:  # optional: reported, but not a reason to take traffic away
        results["events"].ok = True
    out = ReadyOut(ready=all(r.ok for r in results.values()), components=results)
    return JSONResponse(out.model_dump(), status_code=200 if out.ready else 503)


@router.get(
    "/metrics",
    dependencies=[Depends(require("read"))],
    responses={**problems(), 200: {"content": {"text/plain": {}}}},
    response_class=Response,
)
def metrics(svc: Svc) -> Response:
    """Prometheus metrics: ingest lag, events, suppressions, queues, webhook backlog."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from acctpipe.analytics.metrics import build_registry, render

    # The linked MTA's queues, in this process (run) or behind --mta-url (serve) alike.
    queues = svc.mta.queue_sizes if svc.mta is not None else None
    registry = build_registry(source=svc.events, engine=svc.engine, queues=queues)
    return Response(render(registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/openapi.json",
    dependencies=[Depends(require("read"))],
    responses=problems(),
    include_in_schema=False,
)
async def openapi(request: Request) -> JSONResponse:
    """The OpenAPI 3.1 document."""
    return JSONResponse(request.app.openapi())


@router.get(
    "/docs",
    dependencies=[Depends(require("read"))],
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def docs(request: Request) -> HTMLResponse:
    """The API reference, rendered here from the OpenAPI document (no scripts, no CDN)."""
    spec = request.app.openapi()
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "summary": op.get("summary", ""),
            "description": op.get("description", ""),
            "tag": (op.get("tags") or ["other"])[0],
            "parameters": op.get("parameters", []),
            "responses": sorted(op.get("responses", {})),
        }
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    ]
    page = templates.get_template("docs.html").render(spec=spec, operations=operations)
    return HTMLResponse(page)

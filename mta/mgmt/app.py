"""The HTTP management/status endpoint, in the spirit of PowerMTA's ``http-mgmt-port``.

:func:`create_mgmt_app` builds a FastAPI app over a :class:`~mta.status.StatusProvider`;
:class:`MgmtServer` runs any such app with uvicorn inside the MTA's own asyncio
loop. Routes are relative, so the product's API can mount the same app under a
prefix (``outer.mount("/mta", create_mgmt_app(...))``)::

    GET  /healthz                   monitor   the MTA answers
    GET  /status                    monitor   host, uptime, spool, listeners, totals, queue sums
    GET  /queues                    monitor   ?domain= ?vmta= ?backoff= ?paused= ?limit=
    GET  /queues/{queue}            monitor   one destination across its vmtas (404 if unknown)
    POST /queues/{queue}/pause      admin     ?vmta= (default: every vmta)
    POST /queues/{queue}/resume     admin     ?vmta=
    POST /reload                    admin     reload the configuration (validated first)

Access follows ``http-access`` (see :mod:`mta.mgmt.access`); the ``Host`` must be
one the port answers to, a browser on another site can change nothing, and admin
actions need ``http-admin-key`` when one is set (:mod:`mta.mgmt.guard`); errors are RFC 9457
``problem+json`` (see :mod:`mta.mgmt.problem`). Handlers are ``async`` on purpose:
they call the provider on the event loop that owns the MTA's state, never from a
worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from mta.config.model import HttpAccess
from mta.mgmt.access import AccessMiddleware
from mta.mgmt.models import (
    ActionOut,
    HealthOut,
    QueueDetailOut,
    QueueListOut,
    QueueOut,
    QueueSummaryOut,
    StatusOut,
    iso,
    select_queues,
)
from mta.mgmt.problem import (
    PROBLEM_JSON,
    Problem,
    install_problem_handlers,
    problem_response,
    status_title,
)
from mta.mgmt.server import MgmtServer
from mta.status import StatusProvider

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PROBLEM_JSON",
    "ActionOut",
    "MgmtServer",
    "Problem",
    "QueueListOut",
    "QueueOut",
    "StatusOut",
    "create_mgmt_app",
    "install_problem_handlers",
    "problem_response",
    "select_queues",
    "status_title",
]

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 10_000

_log = logging.getLogger(__name__)


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Declared by hand: a ``model`` would also be listed as application/json.
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": status_title(status),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in (403, 421, *statuses)  # every request: http-access and the Host check
    }


def _client(request: Request) -> str:
    return request.client.host if request.client else "(unknown)"


def _routes(provider: StatusProvider) -> APIRouter:
    router = APIRouter(responses=_problems())

    @router.get("/healthz", response_model=HealthOut, responses=_problems(503))
    async def healthz() -> HealthOut | JSONResponse:
        """The MTA answers with a snapshot (monitor level); 503 when it cannot."""
        try:
            snapshot = provider.status()
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure as 503
            _log.exception("health check: the MTA gave no status")
            return problem_response(503, f"the MTA gave no status: {exc}")
        return HealthOut(host_name=snapshot.host_name, now=iso(snapshot.now))

    @router.get("/status")
    async def status() -> StatusOut:
        """Host, uptime, spool counts, listeners, totals and sums over the queues."""
        return StatusOut.of(provider.status())

    @router.get("/queues", responses=_problems(422))
    async def queues(
        domain: Annotated[str | None, Query(description="queue (destination) name")] = None,
        vmta: str | None = None,
        backoff: bool | None = None,
        paused: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> QueueListOut:
        """Queues matching the filters, most queued first, at most ``limit`` of them."""
        chosen = select_queues(
            provider.status().queues, domain=domain, vmta=vmta, backoff=backoff, paused=paused
        )
        page = [QueueOut.of(q) for q in chosen[:limit]]
        return QueueListOut(total=len(chosen), count=len(page), limit=limit, queues=page)

    @router.get("/queues/{queue}", responses=_problems(404, 422))
    async def queue_detail(queue: str) -> QueueDetailOut:
        """One destination across every vmta that has a queue for it."""
        chosen = select_queues(provider.status().queues, domain=queue)
        if not chosen:
            raise HTTPException(404, f"no queue {queue!r}")
        return QueueDetailOut(
            queue=chosen[0].queue,
            summary=QueueSummaryOut.of(chosen),
            vmtas=[QueueOut.of(q) for q in chosen],
        )

    def _act(
        action: Literal["pause", "resume"], queue: str, vmta: str | None, request: Request
    ) -> ActionOut:
        known = select_queues(provider.status().queues, domain=queue, vmta=vmta)
        # Hand the provider the names as it spells them; an unknown queue is passed
        # through as typed, so a provider may pause a destination before it has mail.
        name = known[0].queue if known else queue
        vmta_name = known[0].vmta if known and vmta is not None else vmta
        call = provider.pause if action == "pause" else provider.resume
        affected = call(name, vmta_name)
        if affected == 0 and not known:
            where = f" through vmta {vmta!r}" if vmta is not None else ""
            raise HTTPException(404, f"no queue {queue!r}{where}")
        who = _client(request)
        _log.info("%s %s (vmta %s) by %s: %d queue(s)", action, name, vmta_name, who, affected)
        return ActionOut(action=action, queue=name, vmta=vmta_name, affected=affected)

    @router.post("/queues/{queue}/pause", responses=_problems(401, 404, 422))
    async def pause(queue: str, request: Request, vmta: str | None = None) -> ActionOut:
        """Stop delivering a queue (admin level); every vmta unless ``vmta`` is given."""
        return _act("pause", queue, vmta, request)

    @router.post("/queues/{queue}/resume", responses=_problems(401, 404, 422))
    async def resume(queue: str, request: Request, vmta: str | None = None) -> ActionOut:
        """Resume a paused queue and leave backoff (admin level)."""
        return _act("resume", queue, vmta, request)

    @router.post("/reload", responses=_problems(401, 422))
    async def reload(request: Request) -> ActionOut:
        """Reload the configuration (admin level); an invalid one is refused and kept out."""
        result = provider.reload()
        _log.info("reload by %s: %s", _client(request), result)
        return ActionOut(action="reload", result=result)

    return router


def _no_names() -> tuple[str, ...]:
    return ()


def _no_key() -> str | None:
    return None


def create_mgmt_app(
    provider: StatusProvider,
    get_access: Callable[[], tuple[HttpAccess, ...]],
    *,
    get_host_names: Callable[[], tuple[str, ...]] = _no_names,
    get_admin_key: Callable[[], str | None] = _no_key,
) -> FastAPI:
    """The management app over ``provider``; the ``get_*`` callables are read on every request.

    ``get_access`` returns the ``http-access`` entries in force (so a reload
    applies at once); when it returns none, only loopback clients are let in,
    at admin level. ``get_host_names`` gives ``http-mgmt-host-names`` and
    ``get_admin_key`` the ``http-admin-key`` digest (None: no key needed).
    """
    app = FastAPI(
        title="acctpipe MTA management",
        version="1",
        summary="Status and control of the embedded MTA (PowerMTA http-mgmt-port style).",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
        # operationId "pause" rather than FastAPI's "pause_queues__queue__pause_post"
        generate_unique_id_function=lambda route: route.name,
    )
    install_problem_handlers(app)
    app.add_middleware(
        AccessMiddleware,
        get_access=get_access,
        get_host_names=get_host_names,
        get_admin_key=get_admin_key,
    )
    app.include_router(_routes(provider))
    return app

"""The HTTP API: :func:`create_app` builds it over :class:`~acctpipe.api.settings.Services`.

Routes (every one but ``/healthz`` and ``/readyz`` needs an API key)::

    GET    /healthz /readyz                     liveness; readiness of every component
    GET    /metrics                             Prometheus text format
    GET    /docs  /openapi.json                 the API reference (no CDN) and OpenAPI 3.1
    GET    /                                    the dashboard (and /login for its session)
    /v1/suppressions …                          lookup, list, add, remove, bulk, export.csv
    /v1/suppressions/changes[/stream]           the change feed (long-poll, SSE)
    /v1/reports/{name}  POST /v1/sql            analytics on the DuckDB event store
    /v1/throttles …   /v1/mta …                 throttle decisions; the MTA's queues
    /v1/webhooks …                              subscriptions, messages, replay
    POST   /v1/esp/{provider}                   ESP bounce/complaint notifications → rb/f
"""

from __future__ import annotations

import threading

from fastapi import FastAPI

from acctpipe import __version__
from acctpipe.api import _problems
from acctpipe.api._ratelimit import FailureLimiter, RateLimiter
from acctpipe.api._slots import QuerySlots
from acctpipe.api.auth import Authenticator
from acctpipe.api.middleware import RequestIdMiddleware
from acctpipe.api.settings import Services

__all__ = ["create_app"]

_DESCRIPTION = """\
acctpipe's API for the systems around a sending MTA: a backend keeping its
suppression list in sync (with an incremental change feed that also carries
removals), analysts running read-only SQL and named reports over the
accounting events, and operators steering throttles.

Authenticate with an API key (`acctpipe apikey create NAME --scope read|write|admin`)
sent as `Authorization: Bearer acp_…` or `X-API-Key`. Errors are RFC 9457
`application/problem+json`; every response carries `X-Request-ID`.
"""


def create_app(services: Services) -> FastAPI:
    """The API app over ``services`` (stores, event source, MTA link, webhooks)."""
    from acctpipe.api import (
        dashboard,
        routes_analytics,
        routes_changes,
        routes_esp,
        routes_suppressions,
        routes_system,
        routes_throttles,
        routes_webhooks,
    )
    from acctpipe.api.fastlookup import FastLookup

    app = FastAPI(
        title="acctpipe",
        version=__version__,
        summary="Suppression sync, analytics, throttles and webhooks for a PowerMTA-style MTA.",
        description=_DESCRIPTION,
        docs_url=None,  # Swagger UI loads from a CDN; /docs is rendered here instead
        redoc_url=None,
        openapi_url=None,  # served by routes_system, behind a key
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.services = services
    settings = services.settings
    services.query_slots = threading.BoundedSemaphore(settings.sql_concurrency)
    services.key_slots = QuerySlots(settings.sql_concurrency, settings.sql_per_key)
    app.state.authenticator = Authenticator(
        services.keys,
        ttl=services.settings.key_cache_seconds,
        limiter=RateLimiter(),
        failures=FailureLimiter(services.settings.auth_failures_per_minute),
    )
    _problems.install(app)
    app.add_middleware(FastLookup)  # inside RequestIdMiddleware (added after: outer)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(routes_system.router)
    app.include_router(routes_changes.router)  # before /v1/suppressions/{address}
    app.include_router(routes_suppressions.router)
    app.include_router(routes_analytics.router)
    app.include_router(routes_throttles.router)
    app.include_router(routes_throttles.mta_router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_esp.router)
    app.include_router(dashboard.router)
    return app

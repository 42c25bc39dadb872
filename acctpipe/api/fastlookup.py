"""``GET /v1/suppressions/{address}`` answered without FastAPI's routing and dependencies.

The lookup is the call a backend makes before every send, so its cost per
request bounds how fast mail can be checked. Measured under wrk
(``benchmarks.api_lookup``), FastAPI's route matching and the solving of the
route's dependencies (the key's three security schemes, the services) cost
more CPU than the lookup itself. This pure-ASGI middleware answers the plain
case directly, with the same code the route runs (:func:`~acctpipe.api.
routes_suppressions.lookup_answer`), the same key check and the same rate limit,
and the same bytes and headers the route would send.

Only the plain case: a ``GET`` with no query string, for one path segment that
is a possible address, carrying (as ``Authorization: Bearer`` or ``X-API-Key``)
a key that :class:`~acctpipe.api.auth.Authenticator` verified less than its TTL
ago, whose rate limit has room. Everything else — no key, an unknown, revoked or
uncached key, a cookie, query parameters, an address that is not one, a key over
its rate, an error from the store — goes on to the route, which answers exactly
as it always did (for a store error, the route asks the store again, without
spending a second token of the key's rate limit). So no request is let in here
that the route would refuse, and every refusal comes from the route. Paths under
the prefix that are routes of their own (``changes``, ``export.csv``, …) are read
from the app's routes the first time a request arrives, so a new route is never
taken for an address. It sits inside the request-id middleware: the response carries
``X-Request-ID`` and the access log names the key, as for any other request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import fastapi.routing
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from acctpipe.api.auth import RATE_TAKEN, Authenticator, header_token
from acctpipe.api.keys import allows
from acctpipe.api.routes_suppressions import lookup_answer
from acctpipe.api.settings import Services

__all__ = ["FastLookup", "literal_segments"]

_log = logging.getLogger("acctpipe.api")
PREFIX: Final = "/v1/suppressions/"
_JSON: Final = b"application/json"


class FastLookup:
    """Answer plain suppression lookups directly; pass every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The single path segments under PREFIX that are routes of their own (any
        # method), from the app's routes at the first request: see literal_segments().
        self._literal: frozenset[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PREFIX)
            and not scope.get("query_string")
            and not scope.get("root_path")
            and await self._answer(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Send the lookup's answer and return True, or return False having sent nothing."""
        app = scope["app"]
        literal = self._literal
        if literal is None:
            literal = self._literal = literal_segments(app.routes)
        address = scope["path"][len(PREFIX) :]
        if not address or "/" in address or address in literal:
            return False
        svc: Services = app.state.services
        auth: Authenticator = app.state.authenticator
        token = await header_token(Request(scope))
        key = auth.cached(token) if token else None
        if key is None or not allows(key.scope, "read"):
            return False
        try:
            svc.suppressions.key(address)
        except ValueError:
            return False  # the route answers 422
        if auth.limiter.take(key.key_id, key.rate_limit or svc.settings.rate_limit) > 0:
            return False  # nothing taken: the route answers 429 with Retry-After
        scope.setdefault("state", {})["key_id"] = key.key_id
        try:
            answer = await run_in_threadpool(lookup_answer, svc, address, None, ())
        except Exception:  # noqa: BLE001 - the route asks again and answers it as it always does
            _log.debug("fast lookup failed; the route answers", exc_info=True)
            scope["state"][RATE_TAKEN] = key.key_id  # this request has paid its token
            return False
        body = answer.model_dump_json(by_alias=True).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode("latin-1")),
                    (b"content-type", _JSON),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


def literal_segments(routes: Sequence[BaseRoute]) -> frozenset[str]:
    """The fixed single segments ``s`` of the routes at ``PREFIX + s`` (no ``{param}``).

    Any method counts: ``GET /v1/suppressions/bulk`` is the bulk route's 405, not a
    lookup of ``bulk``. Routers included into the app are walked too (FastAPI from
    0.16x keeps them as included routers; older ones copy their routes in).
    """
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    found = set()
    for route in walk(routes) if walk is not None else routes:
        path = getattr(route, "path", None)
        if isinstance(path, str) and path.startswith(PREFIX):
            rest = path[len(PREFIX) :]
            if rest and "/" not in rest and "{" not in rest:
                found.add(rest)
    return frozenset(found)

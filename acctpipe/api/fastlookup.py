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
as it always did (for a store error, the route asks the store again). So no
request is let in here that the route would refuse, and every refusal comes from
the route. It sits inside the request-id middleware: the response carries
``X-Request-ID`` and the access log names the key, as for any other request.
"""

from __future__ import annotations

import logging
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from acctpipe.api.auth import Authenticator, header_token
from acctpipe.api.keys import allows
from acctpipe.api.routes_suppressions import lookup_answer
from acctpipe.api.settings import Services

__all__ = ["FastLookup"]

_log = logging.getLogger("acctpipe.api")
PREFIX: Final = "/v1/suppressions/"
# Single segments under the prefix that are routes of their own, not addresses.
_OTHER_ROUTES: Final = frozenset({"changes", "export.csv", "bulk"})
_JSON: Final = b"application/json"


class FastLookup:
    """Answer plain suppression lookups directly; pass every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
        address = scope["path"][len(PREFIX) :]
        if not address or "/" in address or address in _OTHER_ROUTES:
            return False
        app = scope["app"]
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

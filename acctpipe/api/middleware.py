"""Request ids, one structured access-log line per request, and a last-resort 500 (pure ASGI).

Every response carries ``X-Request-ID``: the caller's, when it sent a sane one
(up to 128 characters of ``[A-Za-z0-9._:-]``), else a new one. The access log
(logger ``acctpipe.api.access``) gets one JSON object per request: time, request
id, method, path, status, duration, client and the key's public id — never the
key, the query string (it may hold addresses) or a body.

An exception no handler took is logged with the request id and answered as a
500 problem+json carrying that id (Starlette's own fallback answers plain text
from outside this middleware, without the id).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIdMiddleware", "request_id"]

access_log = logging.getLogger("acctpipe.api.access")
error_log = logging.getLogger("acctpipe.api")
_SANE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
HEADER: Final = b"x-request-id"


def request_id(scope: Scope) -> str:
    """The id given to the request in ``scope`` (empty outside the middleware)."""
    return str(scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    """Stamp a request id on the request state and the response, then log the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        rid = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message["headers"] = [*headers, (HEADER, rid.encode("latin-1"))]
            await send(message)

        started_response = [False]

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started_response[0] = True
            await send_with_id(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_log.exception("request %s failed", rid)
            if started_response[0]:
                raise  # too late for a clean answer: let the server close the connection
            status[0] = 500
            body = json.dumps(
                {
                    "type": "about:blank",
                    "title": "Internal Server Error",
                    "status": 500,
                    "detail": f"an unexpected error; quote request id {rid} when reporting it",
                }
            ).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    json.dumps(
                        {
                            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                            "request_id": rid,
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status[0],
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                            "client": client[0] if client else None,
                            "key_id": scope["state"].get("key_id"),
                        },
                        separators=(",", ":"),
                    )
                )

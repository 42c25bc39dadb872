"""``acctpipe demo``: a CRM stand-in — a webhook receiver on loopback that checks signatures.

A :class:`WebhookReceiver` listens on ``127.0.0.1:0`` (``http.server`` in a
thread), verifies every delivery with the ``standardwebhooks`` package — the
same check a real consumer would run — and counts verified deliveries by event
type. A delivery that does not verify is answered 401 and counted apart.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookReceiver"]


class WebhookReceiver:
    """Start with ``with`` (or :meth:`start`); set :attr:`secret` before deliveries arrive."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.verified: Counter[str] = Counter()
        self.rejected = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The URL to subscribe."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/crm/acctpipe"

    @property
    def total(self) -> int:
        """Verified deliveries so far."""
        with self._lock:
            return sum(self.verified.values())

    def snapshot(self) -> tuple[Counter[str], int]:
        """A copy of the verified counts by type, and the number refused."""
        with self._lock:
            return Counter(self.verified), self.rejected

    def _record(self, body: bytes, headers: dict[str, str]) -> int:
        secret = self.secret
        if secret is None:
            return 503
        try:
            payload = Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.rejected += 1
            return 401
        kind = str(payload.get("type", "?")) if isinstance(payload, dict) else "?"
        with self._lock:
            msg_id = headers.get("webhook-id", "")
            if msg_id in self.ids:
                self.duplicates += 1  # at-least-once: a retry of one already counted
            else:
                self.ids.add(msg_id)
                self.verified[kind] += 1
        return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._record(body, headers)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

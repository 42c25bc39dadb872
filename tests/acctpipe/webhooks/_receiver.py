"""A real webhook receiver on 127.0.0.1:0 (``http.server`` in a thread) for the tests.

Each request is recorded, then answered according to ``plan`` (one entry per
request, in order; ``"200"`` once the plan is used up): a status code such as
``"500"`` or ``"410"``, or ``"hang"`` — hold the request without answering
until the receiver closes (the worker's timeout fires first).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook

_HANG_LIMIT = 10.0  # seconds a "hang" lasts at most


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered (None: it hung)."""

    path: str
    headers: dict[str, str]
    body: str
    answer: int | None

    @property
    def msg_id(self) -> str:
        """The ``webhook-id`` header."""
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """The payload if the signature verifies with ``secret`` (else WebhookVerificationError)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """The receiver; use it as a context manager (it starts on enter, stops on exit)."""

    def __init__(self) -> None:
        self.plan: deque[str] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.02)  # a quick shutdown at teardown

    @property
    def url(self) -> str:
        """The URL to subscribe (any path is accepted)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                with receiver._lock:
                    step = receiver.plan.popleft() if receiver.plan else "200"
                    answer = None if step == "hang" else int(step)
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(self.path, headers, body, answer))
                if answer is None:
                    receiver._release.wait(_HANG_LIMIT)
                    answer = 200
                try:
                    self.send_response(answer)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout) and closed the connection

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def requests(self) -> list[Received]:
        """A copy of what was received so far."""
        with self._lock:
            return list(self.received)

    def answered(self, code: int = 200) -> list[Received]:
        """The requests answered with ``code``."""
        return [r for r in self.requests() if r.answer == code]

    def counts(self) -> Counter[str]:
        """How many times each webhook-id was received and answered 200."""
        return Counter(r.msg_id for r in self.answered(200))

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float = 10) -> None:
        """Wait until ``condition(requests)`` holds (AssertionError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while not condition(self.requests()):
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met; got {self.requests()}")
            time.sleep(0.01)

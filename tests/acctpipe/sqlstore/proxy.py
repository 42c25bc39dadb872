"""A TCP proxy on loopback in front of the real PostgreSQL that a test can freeze.

Frozen, it keeps every socket open and reads nothing more: to the client it
looks exactly like a server stopped with SIGSTOP (connections accepted by the
kernel, bytes acknowledged, no answer) without touching the shared server.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

from sqlalchemy import make_url


class FreezableProxy:
    """Forward 127.0.0.1:<port> to ``target``; :meth:`freeze` stops all traffic."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = int(self.listener.getsockname()[1])
        self.frozen = threading.Event()
        self.refusing = threading.Event()
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._held: list[socket.socket] = []  # accepted while frozen: never answered
        self._thread = threading.Thread(target=self._run, name="pg-proxy", daemon=True)

    def url(self, url: str) -> str:
        """``url`` pointed at the proxy instead of the server."""
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(False)

    def freeze(self) -> None:
        """Stop forwarding (new connections are accepted and left unanswered)."""
        self.frozen.set()

    def thaw(self) -> None:
        """Forward again."""
        self.frozen.clear()

    def refuse(self) -> None:
        """Act like a stopped server: close every connection, and each new one at once."""
        self.refusing.set()

    def serve(self) -> None:
        """Act like a server that is back: forward new connections again."""
        self.refusing.clear()

    def __enter__(self) -> FreezableProxy:
        self._sel.register(self.listener, selectors.EVENT_READ)
        self._thread.start()
        return self

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in [self.listener, *self._pairs, *self._held]:
            sock.close()

    def _drop(self, sock: socket.socket) -> None:
        other = self._pairs.pop(sock, None)
        for s in (sock, other):
            if s is None:
                continue
            self._pairs.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(s)
            s.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.frozen.is_set():
                try:  # accept (the kernel would anyway) but never answer
                    client, _ = self.listener.accept()
                    self._held.append(client)
                except BlockingIOError:
                    pass
                self._stop.wait(0.05)
                continue
            if self.refusing.is_set():
                for paired in list(self._pairs):
                    self._drop(paired)
            for key, _ in self._sel.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.listener:
                    try:
                        client, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    if self.refusing.is_set():
                        client.close()
                        continue
                    upstream = socket.create_connection(self.target, timeout=5)
                    for s in (client, upstream):
                        s.setblocking(False)
                        self._sel.register(s, selectors.EVENT_READ)
                    self._pairs[client], self._pairs[upstream] = upstream, client
                    continue
                if sock not in self._pairs:
                    continue
                try:
                    data = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(sock)
                    continue
                try:
                    self._pairs[sock].setblocking(True)
                    self._pairs[sock].sendall(data)
                    self._pairs[sock].setblocking(False)
                except OSError:
                    self._drop(sock)

"""Run an ASGI app with uvicorn inside the MTA's own asyncio loop.

uvicorn is made a guest, not the host: it does not install signal handlers
(SIGHUP/SIGTERM belong to the MTA), does not reconfigure logging, does not read
``X-Forwarded-For`` (a local proxy header must not raise a client's
``http-access`` level), and any failure to start is raised from
:meth:`MgmtServer.start` instead of ``sys.exit``-ing the process. We bind the
socket ourselves, so a bind error is immediate and port 0 is known at once.
With ``reuse_port``, the socket is bound with ``SO_REUSEPORT``: several
processes each bind their own socket to the same port and the kernel spreads
new connections among them (``acctpipe serve --workers N``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from asyncio import FIRST_COMPLETED
from collections.abc import Iterator
from typing import Final

import uvicorn
from starlette.types import ASGIApp

from mta.errors import ConfigError, LocalError

__all__ = ["MgmtServer"]

_log = logging.getLogger(__name__)
_START_TIMEOUT: Final = 10.0  # seconds for the app's startup (lifespan)
_STOP_TIMEOUT: Final = 5  # seconds for open requests to finish on stop


def is_loopback_host(host: str) -> bool:
    """Is ``host`` a loopback address (or ``localhost``)?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: not provably loopback


class _GuestServer(uvicorn.Server):
    """uvicorn without its signal handlers, reporting when it is up."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would replace the process's SIGINT/SIGTERM handlers (with
        # signal.signal, trumping loop.add_signal_handler); the MTA owns them.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


class MgmtServer:
    """Serve ``app`` on ``host:port`` (loopback unless ``allow_remote``) until stopped."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
        reuse_port: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback_host(host):
            raise ConfigError(
                f"refusing to serve the management endpoint on non-loopback {host!r}"
                " (pass allow_remote=True, and restrict it with http-access)"
            )
        self.app = app
        self.host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._reuse_port = reuse_port
        self._server: _GuestServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port bound (the real one once started, even when asked for port 0)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted connections only
        # when the listening socket says TCP, and create_server() leaves it 0. With
        # Nagle on, every kept-alive request waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self._reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, self._port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise LocalError(
                f"cannot listen on {self.host}:{self._port} for management: {exc}"
            ) from exc
        return sock

    async def _serve(self, server: _GuestServer, sock: socket.socket) -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:
            # uvicorn exits the process when the app's startup fails; here that
            # is an error for whoever started us, not the end of the MTA.
            raise LocalError(f"management endpoint failed to start (exit {exc.code})") from None
        finally:
            sock.close()  # uvicorn closes it only if it got as far as serving

    async def start(self) -> None:
        """Bind and start serving; return once requests are answered."""
        if self._task is not None:
            raise LocalError("management endpoint already started")
        sock = self._bind()
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the MTA's logging configuration alone
            proxy_headers=False,  # the client address is the socket's, never a header
            ws="none",
            lifespan="auto",
            server_header=False,
            timeout_graceful_shutdown=_STOP_TIMEOUT,
        )
        self._server = server = _GuestServer(config)
        self._task = task = asyncio.create_task(self._serve(server, sock), name="mgmt-server")
        up = asyncio.create_task(server.up.wait())
        try:
            await asyncio.wait({task, up}, timeout=_START_TIMEOUT, return_when=FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._finish()  # whoever started us gave up: leave no server behind
            raise
        finally:
            up.cancel()
        if server.up.is_set():
            return
        error = await self._finish()
        raise error or LocalError(f"management endpoint did not start within {_START_TIMEOUT}s")

    async def stop(self) -> None:
        """Stop accepting, let open requests finish (briefly), and release the port."""
        error = await self._finish()
        if error is not None:
            _log.warning("management endpoint had stopped with an error: %s", error)

    async def _finish(self) -> BaseException | None:
        # Ask uvicorn to exit and wait for it; return what it died of, if anything.
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return None
        server.should_exit = True
        # uvicorn's own graceful timeout bounds this; the extra wait only guards it.
        done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT * 2)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return None if task.cancelled() else task.exception()

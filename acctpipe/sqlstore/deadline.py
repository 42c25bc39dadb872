"""Client-side deadlines for PostgreSQL calls: a frozen server cannot hang its caller.

``statement_timeout`` is enforced by the server, so a server that is stopped
(SIGSTOP, a hung host) enforces nothing. Its kernel still acknowledges our
bytes, so TCP keepalives and ``tcp_user_timeout`` never fire either: a call
waits on the socket for ever, and with it the follower, the readiness probe and
shutdown. The bound that holds is on our side. A :class:`Deadline` watches
every connection of one engine from a daemon thread: a connection busy with
the same command for longer than ``limit`` seconds has its socket shut down,
which wakes the blocked call with an ``OperationalError`` (raised to the caller as
:class:`~acctpipe.errors.SqlStoreUnavailableError` by the engine's error hook; the
pool drops the connection, and the caller's retry opens a new one, bounded by
``connect_timeout``). :meth:`Deadline.shorten` lowers the limit at shutdown,
so no stop waits long for a server that does not answer.

"Busy" is libpq's own view (``PQTRANS_ACTIVE``: a command sent, its result not
yet in); each command start bumps a counter, so two quick commands in a row
are never mistaken for one slow one.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref
from typing import Any, Final

from sqlalchemy import Engine, event

__all__ = ["Deadline", "deadline_of"]

log = logging.getLogger("acctpipe.sqlstore")
TICK: Final = 0.25  # how often busy connections are looked at

_watched: weakref.WeakSet[Deadline] = weakref.WeakSet()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_by_engine: weakref.WeakKeyDictionary[Engine, Deadline] = weakref.WeakKeyDictionary()


class _Watched:
    """One DBAPI connection: the command counter and when its current command was seen busy."""

    __slots__ = ("busy_since", "connection", "seen", "started")

    def __init__(self, connection: Any) -> None:
        self.connection: weakref.ref[Any] = weakref.ref(connection)
        self.started = 0  # commands started (bumped before each)
        self.seen = -1  # the command busy_since refers to
        self.busy_since = 0.0


class Deadline:
    """Cut off any call on ``engine``'s connections that is busy for more than ``limit`` s."""

    def __init__(self, engine: Engine, limit: float) -> None:
        self.limit = limit
        self.cut = 0  # calls cut off so far
        self._connections: dict[int, _Watched] = {}
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "close", self._closed)
        event.listen(engine, "before_cursor_execute", self._starting)
        event.listen(engine, "commit", self._starting_conn)
        event.listen(engine, "rollback", self._starting_conn)
        _by_engine[engine] = self
        _start(self)

    def shorten(self, limit: float) -> None:
        """Lower the limit (at shutdown: do not wait long for a server that is gone)."""
        self.limit = min(self.limit, limit)

    # -- engine events -----------------------------------------------------------------

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        with _lock:
            self._connections[id(dbapi_connection)] = _Watched(dbapi_connection)

    def _closed(self, dbapi_connection: Any, _record: Any) -> None:
        with _lock:
            self._connections.pop(id(dbapi_connection), None)

    def _bump(self, dbapi_connection: Any) -> None:
        watched = self._connections.get(id(dbapi_connection))
        if watched is not None:
            watched.started += 1

    def _starting(self, _conn: Any, cursor: Any, *_args: Any) -> None:
        self._bump(cursor.connection)

    def _starting_conn(self, conn: Any) -> None:
        try:
            self._bump(conn.connection.dbapi_connection)
        except Exception:  # noqa: BLE001 - an invalidated connection: nothing to watch
            return

    # -- the watchdog ------------------------------------------------------------------

    def check(self, now: float) -> None:
        """Cut off the connections busy with one command for longer than the limit."""
        with _lock:
            items = list(self._connections.items())
        for key, watched in items:
            connection = watched.connection()
            if connection is None:
                with _lock:
                    self._connections.pop(key, None)
                continue
            if not _busy(connection):
                watched.seen = -1
                continue
            if watched.seen != watched.started:
                watched.seen, watched.busy_since = watched.started, now
                continue
            if now - watched.busy_since > self.limit:
                watched.seen = -1
                self.cut += 1
                log.error(
                    "no answer from the database for %.0f s: cutting the call off", self.limit
                )
                _shut(connection)


def _busy(connection: Any) -> bool:
    try:
        from psycopg import pq

        return bool(connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE)
    except Exception:  # noqa: BLE001 - closed or not a psycopg connection
        return False


def _shut(connection: Any) -> None:
    """Shut the connection's socket down: a call blocked on it returns with an error."""
    try:
        fd = connection.pgconn.socket
        # fromfd duplicates the descriptor; shutdown acts on the socket both share.
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # noqa: BLE001 - already closed: nothing is blocked on it
        return


def _run() -> None:
    while True:
        time.sleep(TICK)
        now = time.monotonic()
        with _lock:  # another thread adding a deadline mid-copy would change the set's size
            watched = list(_watched)
        for deadline in watched:
            deadline.check(now)


def _start(deadline: Deadline) -> None:
    global _thread
    with _lock:
        _watched.add(deadline)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="acctpipe-db-deadline", daemon=True)
            _thread.start()


def deadline_of(engine: Engine) -> Deadline | None:
    """The deadline watching ``engine`` (None for SQLite, which has no server to wait on)."""
    return _by_engine.get(engine)

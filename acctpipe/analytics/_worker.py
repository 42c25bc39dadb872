"""The SQL sandbox's worker process: runs user SQL where the host's files are out of reach.

Started by :class:`acctpipe.analytics.sandbox.SqlSandbox` as
``python -m acctpipe.analytics._worker LIMITS_JSON``. Before it reads a request
the process locks itself down:

* address space capped (``RLIMIT_AS``), no file may be written (``RLIMIT_FSIZE``
  0, so a write fails with ``EFBIG``), no core dumps;
* each snapshot is opened read-only in its own DuckDB instance with external
  access off (no file, directory, network or other database beyond the snapshot
  itself), no extension loading, no spilling to disk, ``memory_limit`` and
  ``threads`` set, then ``lock_configuration`` — no query can change any of it.

Protocol: one JSON object per line on stdin (``snapshot``, ``sql``, ``max_rows``,
``max_bytes``, ``timeout``). The answer is a JSON line ``{"ok": false, "kind":
..., "reason": ...}``, or ``{"ok": true, "rows": N, ...}`` followed by N lines,
one JSON array per row (so the server can pass rows on without decoding them).
A query that ran out of memory answers ``"kind": "memory"``: the server then
replaces this process, whose heap stays swollen after such a query.
The process exits when stdin closes (its parent is gone). After
``idle_close`` seconds without a request it closes its snapshot, so a copy the
server has deleted does not keep its disk space taken. The parse-tree guard
(:func:`acctpipe.analytics._guard.check_readonly`) still runs here first.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import threading
import time
from typing import Any

import duckdb

from acctpipe.analytics import _guard
from acctpipe.analytics.errors import SqlError, SqlRefusedError
from acctpipe.analytics.result import jsonable

_CHUNK = 64  # rows fetched at a time: a chunk of huge values stops at DuckDB's memory_limit


def _lock_down(limits: dict[str, Any]) -> None:
    space = int(limits["address_space"])
    resource.setrlimit(resource.RLIMIT_AS, (space, space))
    # No file is ever written from here: DuckDB spilling, COPY, EXPORT... all get EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Ctrl-C reaches the whole process group: the server stops, and this process ends
    # when its stdin closes, not with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _open(path: str, limits: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {
        "enable_external_access": False,
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "allow_community_extensions": False,
        "python_enable_replacements": False,
        "memory_limit": f"{int(limits['memory_limit'])}B",
        "threads": int(limits["threads"]),
        "temp_directory": "",  # never spill to disk: past memory_limit a query fails
    }
    conn = duckdb.connect(path, read_only=True, config=config)
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET enable_progress_bar = false")
    conn.execute("SET lock_configuration = true")
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fits(row: tuple[Any, ...], budget: int) -> str | None:
    """The row as JSON text if it fits in ``budget`` bytes, else None (checked cheaply first)."""
    for value in row:
        if isinstance(value, str | bytes | bytearray) and len(value) > budget:
            return None
    text = json.dumps([jsonable(v) for v in row], ensure_ascii=False, allow_nan=False)
    return text if len(text.encode()) <= budget else None


def _run(conn: duckdb.DuckDBPyConnection, request: dict[str, Any]) -> str:
    max_rows, max_bytes = int(request["max_rows"]), int(request["max_bytes"])
    timeout = float(request["timeout"])
    started = time.perf_counter()
    statement = _guard.check_readonly(conn, str(request["sql"]))
    cursor = conn.cursor()
    timer = threading.Timer(timeout, cursor.interrupt)
    timer.start()
    try:
        result = cursor.execute(statement)
        description = result.description or []
        rows: list[str] = []
        used, truncated_by = 0, None
        while truncated_by is None:
            chunk = result.fetchmany(_CHUNK)
            if not chunk:
                break
            for row in chunk:
                if len(rows) == max_rows:
                    truncated_by = "rows"
                    break
                text = _fits(row, max_bytes - used)
                if text is None:
                    truncated_by = "bytes"
                    break
                rows.append(text)
                used += len(text.encode()) + 1
    except duckdb.InterruptException:
        return json.dumps({"ok": False, "kind": "timeout", "reason": ""})
    finally:
        timer.cancel()
        cursor.close()
    head = {
        "ok": True,
        "columns": [str(d[0]) for d in description],
        "types": [str(d[1]) for d in description],
        "truncated_by": truncated_by,
        "elapsed_ms": (time.perf_counter() - started) * 1000,
        "rows": len(rows),
    }
    return "\n".join([json.dumps(head), *rows])


def _answer(state: dict[str, Any], request: dict[str, Any], limits: dict[str, Any]) -> str:
    try:
        if state.get("path") != request["snapshot"]:
            _release(state)
            state["conn"] = _open(str(request["snapshot"]), limits)
            state["path"] = request["snapshot"]
        return _run(state["conn"], request)
    except SqlRefusedError as exc:
        return json.dumps({"ok": False, "kind": "refused", "reason": exc.reason})
    except SqlError as exc:
        return json.dumps({"ok": False, "kind": "sql", "reason": exc.reason})
    except MemoryError:
        return json.dumps(
            {"ok": False, "kind": "memory", "reason": "the query ran out of memory in its worker"}
        )
    except duckdb.OutOfMemoryException as exc:
        # "memory": the server retires this worker (its heap stays swollen, see sandbox.py).
        return json.dumps({"ok": False, "kind": "memory", "reason": _first_line(exc)})
    except duckdb.Error as exc:
        return json.dumps({"ok": False, "kind": "sql", "reason": _first_line(exc)})
    except Exception as exc:  # noqa: BLE001 - one bad query must not end the worker
        reason = f"the query failed in its worker: {type(exc).__name__}: {_first_line(exc)}"
        return json.dumps({"ok": False, "kind": "sql", "reason": reason})


def main() -> None:
    """Lock this process down, then answer requests from stdin until it closes."""
    limits: dict[str, Any] = json.loads(sys.argv[1])
    _lock_down(limits)
    _guard.warm()  # the guard's function and type tables, before the first request
    out = os.fdopen(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)
    out.write('{"ready": true}\n')
    out.flush()
    state: dict[str, Any] = {}
    idle = float(limits.get("idle_close", 10.0))
    poller = select.poll()
    poller.register(sys.stdin.fileno(), select.POLLIN)
    while True:
        # The server sends one request and waits for its answer, so nothing is ever
        # buffered past the line read here: poll on the descriptor tells the truth.
        if not poller.poll(idle * 1000):
            # Idle: let go of the snapshot. A superseded copy is deleted at once, but its
            # disk space stays taken while a process holds it open (a whole store's size).
            _release(state)
            continue
        line = sys.stdin.readline()
        if not line:
            break
        request = json.loads(line)
        out.write(_answer(state, request, limits) + "\n")
        out.flush()


def _release(state: dict[str, Any]) -> None:
    if state.get("conn") is not None:
        state["conn"].close()
    state["conn"], state["path"] = None, None


if __name__ == "__main__":
    main()

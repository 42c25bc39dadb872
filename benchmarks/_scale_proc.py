"""Child processes for :mod:`benchmarks.suppression_scale`: ours and the database's bulk path.

Every side runs as a fresh process timed from spawn to exit (process start,
imports and connection included), its CPU time from ``wait4``'s resource
usage of that child alone and its peak RSS from its own ``VmHWM``. Ours is the ``acctpipe``
command a user types; the ceilings are the database's own bulk path over the
same file, as a shell user would run it:

* PostgreSQL: ``psql -c "\\copy bare FROM FILE (FORMAT csv, HEADER)"`` into a
  bare one-column table (no index, no constraint: the server's floor);
* SQLite: a Python process ``executemany``-ing the same lines into a table
  whose column is its PRIMARY KEY (the index a suppression list needs), one
  transaction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import make_url

__all__ = ["Run", "acctpipe", "database_dump", "pg_copy", "run", "sqlite_executemany"]

_SQLITE: Final = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("CREATE TABLE bare (address TEXT PRIMARY KEY)")
with open(sys.argv[2], encoding="utf-8") as f:
    next(f)
    with conn:
        conn.executemany(
            "INSERT OR IGNORE INTO bare (address) VALUES (?)", ((line.rstrip("\\n"),) for line in f)
        )
print(conn.execute("SELECT count(*) FROM bare").fetchone()[0])
conn.close()
"""


@dataclass(frozen=True, slots=True)
class Run:
    """One child process: wall seconds, CPU seconds (user + system), peak RSS, its stdout."""

    seconds: float
    cpu: float
    rss_mb: float
    stdout: str


class _Peak:
    """The child's peak resident set (``VmHWM``), read every 20 ms until it exits.

    Not ``wait4``'s ``ru_maxrss``: a child spawned from this process starts its
    count from this process's own resident set, which would hide the child's.
    """

    def __init__(self, pid: int) -> None:
        self.mb = float("nan")
        self._path = Path(f"/proc/{pid}/status")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            text = self._path.read_text(encoding="ascii")
        except OSError:  # gone
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                mb = int(line.split()[1]) / 1024
                self.mb = mb if self.mb != self.mb else max(self.mb, mb)

    def _watch(self) -> None:
        while not self._done.wait(0.02):
            self._read()

    def stop(self) -> None:
        """Stop watching (the child has exited)."""
        self._done.set()
        self._thread.join()


def run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``argv`` to its end; a non-zero exit raises CalledProcessError with its stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
            cwd=cwd,
        )
        peak = _Peak(child.pid)
        # Files, not pipes: wait4 reaps the child itself and gives its own CPU time.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        peak.stop()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, argv, stdout, stderr)
    return Run(seconds, usage.ru_utime + usage.ru_stime, peak.mb, stdout)


def acctpipe(*args: str) -> list[str]:
    """The ``acctpipe`` command line (the venv's script, else ``python -m acctpipe.cli``)."""
    script = Path(sys.executable).with_name("acctpipe")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "acctpipe.cli"]
    return [*command, *args]


def _psql(url: str) -> list[str]:
    u = make_url(url)
    conn = (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username} dbname={u.database}"
    )
    return [shutil.which("psql") or "psql", conn, "-q", "-v", "ON_ERROR_STOP=1"]


def pg_copy(url: str, path: Path) -> Run:
    """``psql \\copy`` of ``path`` into a new bare table ``bare`` of the database at ``url``."""
    prepare = _psql(url)
    subprocess.run(
        [*prepare, "-c", "DROP TABLE IF EXISTS bare", "-c", "CREATE TABLE bare (address text)"],
        check=True,
        capture_output=True,
    )
    copy = f"\\copy bare (address) FROM '{path}' WITH (FORMAT csv, HEADER true)"
    done = run([*prepare, "-c", copy])
    subprocess.run([*prepare, "-c", "DROP TABLE bare"], check=True, capture_output=True)
    return done


def sqlite_executemany(path: Path, database: Path) -> Run:
    """``executemany`` of the lines of ``path`` into a PRIMARY KEY column of a new SQLite file."""
    database.unlink(missing_ok=True)
    try:
        return run([sys.executable, "-c", _SQLITE, str(database), str(path)])
    finally:
        database.unlink(missing_ok=True)


_SQLITE_DUMP: Final = """
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT address, scope, reason, detail, created_at, updated_at, expires_at"
    " FROM suppressions ORDER BY address, scope"
)
with open(sys.argv[2], "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\\n")
    w.writerow(["address", "scope", "reason", "detail", "created_at", "updated_at", "expires_at"])
    w.writerows(rows)
conn.close()
"""
_PG_DUMP: Final = (
    "\\copy (SELECT address, scope, reason, detail, created_at, updated_at, expires_at"
    " FROM suppressions ORDER BY address, scope) TO '{path}' WITH (FORMAT csv, HEADER true)"
)


def database_dump(backend: str, url: str, path: Path) -> Run:
    """The database's own CSV dump of the export's columns, in its order, to ``path``.

    ``psql \\copy (SELECT …) TO`` on PostgreSQL; a Python ``sqlite3`` + ``csv``
    process on SQLite. The file is removed afterwards.
    """
    try:
        if backend == "postgresql":
            return run([*_psql(url), "-c", _PG_DUMP.format(path=path)])
        database = make_url(url).database or ""
        return run([sys.executable, "-c", _SQLITE_DUMP, database, str(path)])
    finally:
        path.unlink(missing_ok=True)

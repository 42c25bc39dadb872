"""`acctpipe tail` as a real process: follows appends and rotation, survives kill -9 exactly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.acctpipe._acct import append, expected, header, rcpts, rows

pytestmark = pytest.mark.slow  # every test here takes over a second


def _start(db: Path, directory: Path, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acctpipe.cli",
            "tail",
            "--db",
            str(db),
            "--rescan",
            "0.2",
            "--batch-rows",
            "50",
            str(directory),
        ],
        stdout=stdout,
        stderr=subprocess.DEVNULL,
    )


def _wait_following(proc: subprocess.Popen[bytes]) -> None:
    """Block until ``tail`` prints its banner: its SIGTERM handler is in place from then on.

    A loaded machine can take seconds just to import the command; a SIGTERM before
    the banner would kill it the default way (-15) rather than stop it cleanly.
    """
    assert proc.stdout is not None
    banner = b""
    while b"(Ctrl-C to stop)" not in b" ".join(banner.split()):  # the console may wrap it
        line = proc.stdout.readline()
        assert line, f"tail exited before following: {banner!r}"
        banner += line


def _catch_up(db: Path, directory: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "acctpipe.cli", "ingest", "--db", str(db), str(directory)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def test_tail_follows_appends_and_rotation_then_stops_on_sigterm(tmp_path: Path) -> None:
    """A running tail ingests appended rows and a rotated-by-rename file, and exits 0 on SIGTERM."""
    logs = tmp_path / "logs"
    logs.mkdir()
    acct = logs / "acct.csv"
    acct.write_bytes(header() + rows(0, 20))
    proc = _start(tmp_path / "db.duckdb", logs, stdout=subprocess.PIPE)
    _wait_following(proc)
    time.sleep(1.0)  # a few passes over acct.csv before it is rotated
    append(acct, rows(20, 30))
    acct.rename(logs / "acct-1.csv")
    append(logs / "acct-1.csv", rows(30, 35))
    (logs / "acct.csv").write_bytes(header() + rows(35, 40))
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)  # also closes the pipe
    assert proc.returncode == 0
    assert rcpts(tmp_path / "db.duckdb") == expected(range(40))


def test_kill_9_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """kill -9 of a real tail process, repeatedly, while a writer appends: table == input."""
    rng = random.Random(5)
    logs = tmp_path / "logs"
    logs.mkdir()
    db = tmp_path / "db.duckdb"
    acct = logs / "acct.csv"
    acct.write_bytes(header())
    written, kills = 0, 0
    proc = _start(db, logs)
    deadline = time.monotonic() + 20
    while kills < 6 and time.monotonic() < deadline:
        for _ in range(rng.randint(5, 30)):
            step = rng.randint(1, 40)
            data = rows(written, written + step)
            cut = rng.randint(0, len(data))
            append(acct, data[:cut])  # a half-written line is visible for a moment
            append(acct, data[cut:])
            written += step
            time.sleep(rng.uniform(0, 0.01))
        if kills == 3:  # rotate once in the middle of the storm
            acct.rename(logs / "acct-old.csv")
            acct.write_bytes(header())
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = _start(db, logs)
    proc.kill()
    proc.wait()
    _catch_up(db, logs)
    assert kills >= 3
    assert rcpts(db) == expected(range(written))

"""Run the real `acctpipe` command in a child process, as a user would, and check help snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests._paths import ROOT as REPO

SNAPSHOTS = REPO / "tests" / "snapshots"


def run_cli(
    *args: str, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m acctpipe.cli ARGS` with a fixed terminal width; output decoded as UTF-8."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    proc = subprocess.run(
        [sys.executable, "-m", "acctpipe.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
        cwd=cwd,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def assert_help_snapshot(args: list[str], name: str) -> None:
    """`ARGS --help` equals tests/snapshots/NAME (UPDATE_SNAPSHOTS=1 rewrites it)."""
    proc = run_cli(*args, "--help")
    assert proc.returncode == 0, proc.stderr
    snap = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snap.write_text(proc.stdout, encoding="utf-8")
    assert proc.stdout == snap.read_text(encoding="utf-8")


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    """Poll ``check`` every 0.1 s (a child process is doing the work) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")

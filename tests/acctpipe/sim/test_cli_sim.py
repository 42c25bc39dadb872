"""`acctpipe simulate-isp` as a user runs it: loopback only, counters printed on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys

import pytest

from tests.acctpipe._cli import assert_help_snapshot, run_cli
from tests.acctpipe.sim._client import MESSAGE

pytestmark = pytest.mark.slow  # every test here takes over a second


def test_non_loopback_listen_address_is_one_line_and_exit_2() -> None:
    """--listen on a routable address is refused with one line on stderr, exit 2."""
    proc = run_cli("simulate-isp", "--listen", "192.0.2.1:25")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "acctpipe: error: '192.0.2.1' is not a loopback address: the ISP simulator only "
        "listens and sends on 127.0.0.0/8 or ::1"
    ]


def test_unknown_profile_is_one_line_and_exit_2() -> None:
    """--profile that is neither built in nor a file names the built-in profiles."""
    proc = run_cli("simulate-isp", "--profile", "hotmail")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1
    assert "built-in: blocker, default" in proc.stderr


def test_help_output_is_stable() -> None:
    """`simulate-isp --help` matches its snapshot (examples and options users rely on)."""
    assert_help_snapshot(["simulate-isp"], "help-simulate-isp.txt")


def test_runs_until_interrupted_then_prints_counters() -> None:
    """The command serves mail, and Ctrl-C (SIGINT) prints per-IP counters and exits 0."""
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acctpipe.cli",
            "simulate-isp",
            "-p",
            "gmail",
            "-l",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", first).group(1))  # type: ignore[union-attr]
        with smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.4", 0), timeout=10) as s:
            s.sendmail("news@sender.test", ["bob@isp.test"], MESSAGE)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    row = next(line for line in out.splitlines() if "127.0.0.4" in line)
    assert row.split("│")[1:5] == [" 127.0.0.4 ", " 1     ", " 1        ", " 1        "]

"""A fast SMTP sink for the benchmarks: Postfix's ``smtp-sink`` (C) when it can run, else ours.

``smtp-sink`` comes from the Postfix prefix that :mod:`scripts.peer_mta.prefix`
unpacks (downloaded on first use, never installed); it is run straight from the
prefix with its private libraries on ``LD_LIBRARY_PATH``, as ``nobody`` when we
are root, on loopback. It advertises PIPELINING and 8BITMIME, throws every
message away and, with ``-c``, writes a running count (``... mesg=N``) that
:meth:`Sink.received` reads back from its output file.

Where the prefix cannot be had (no root, no apt), :mod:`benchmarks._tiny_sink`
stands in: one asyncio protocol that answers each command with a fixed reply
and finds the end of DATA with one search per chunk — far less work per
message than our MTA (no spool, no policy, no accounting), and it writes the
same ``mesg=N`` count.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Sink", "free_port", "start_sink", "wait_port"]

_COUNT = re.compile(rb"mesg=(\d+)")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0
) -> None:
    """Wait until something listens on 127.0.0.1:``port`` (``proc``, if given, must not exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening on port {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@dataclass
class Sink:
    """A running sink process: where it listens, what it is, how many messages it took."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    output: Path
    _dir: tempfile.TemporaryDirectory[str] = field(repr=False)

    def received(self) -> int:
        """Messages the sink has taken so far (its last ``mesg=N``)."""
        with self.output.open("rb") as f:
            f.seek(max(0, self.output.stat().st_size - 256))
            found = _COUNT.findall(f.read())
        return int(found[-1]) if found else 0

    def wait_for(self, count: int, timeout: float = 60.0) -> float:
        """Wait until the sink has ``count`` messages; return the wall-clock time it saw them."""
        deadline = time.monotonic() + timeout
        while self.received() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sink has {self.received()} of {count} messages")
            time.sleep(0.002)
        return time.time()

    def stop(self) -> None:
        """Terminate the sink and forget its output."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._dir.cleanup()


def _smtp_sink_argv(port: int) -> tuple[list[str], dict[str, str]] | None:
    """The command and environment that run Postfix's smtp-sink, or None where it cannot."""
    try:
        from scripts.peer_mta.prefix import unpack

        prefix = unpack("postfix", ["postfix"])
    except Exception as exc:  # noqa: BLE001 - no apt, no root, no network: use our own sink
        print(f"smtp-sink unavailable ({exc}); using benchmarks._tiny_sink", file=sys.stderr)
        return None
    binary = prefix.root / "usr/sbin/smtp-sink"
    if not binary.exists():
        return None
    env = dict(os.environ, LD_LIBRARY_PATH=str(prefix.root / "usr/lib/postfix"))
    argv = [str(binary), "-c"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # smtp-sink drops root; there is no postfix user here
    return [*argv, f"127.0.0.1:{port}", "256"], env


def start_sink(*, prefer: str = "smtp-sink") -> Sink:
    """Start the fastest sink available (``prefer="tiny"`` forces ours)."""
    port = free_port()
    tmp = tempfile.TemporaryDirectory(prefix="acctpipe-sink-")
    output = Path(tmp.name) / "count"
    found = _smtp_sink_argv(port) if prefer == "smtp-sink" else None
    if found is not None:
        argv, env = found
        name = "Postfix smtp-sink (C)"
    else:
        argv = [sys.executable, "-m", "benchmarks._tiny_sink", "--port", str(port)]
        env = dict(os.environ)
        name = "benchmarks._tiny_sink (asyncio)"
    with output.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_port(port, proc)
    except RuntimeError:
        proc.kill()
        proc.wait()
        tmp.cleanup()
        raise
    return Sink(name, port, proc, output, tmp)
